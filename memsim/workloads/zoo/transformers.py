"""Transformers of the zoo: BERT-base and -large, ViT-B/16 and a decoder-only LLM family.

Hidden states are 2-D ``(B*T, d_model)`` tensors (as inference engines keep them); attention
reads Q/K/V through no-copy views ``(B, T, heads, d_head)`` with batched matmuls written as
einsums. Q, K and V are three linear layers (fused ``c_attn`` / ``in_proj`` weights are split;
the MACs and parameters are identical). The attention scale and mask are fused into the softmax
(not separate ops); full ``T x T`` scores are computed in prefill, as the reference
implementations do.
"""

from __future__ import annotations

from memsim.workloads.builder import GraphBuilder
from memsim.workloads.ir import Graph


def _encoder_layer(b: GraphBuilder, x: str, bt: tuple[int, int], d: int, heads: int, ffn: int,
                   pre: str, pre_norm: bool) -> str:
    bsz, t = bt
    dh = d // heads
    h = b.layernorm(x, name=f"{pre}.ln_1") if pre_norm else x
    q = b.reshape(b.linear(h, d, name=f"{pre}.attn.q"), (bsz, t, heads, dh), name=f"{pre}.attn.qv")
    k = b.reshape(b.linear(h, d, name=f"{pre}.attn.k"), (bsz, t, heads, dh), name=f"{pre}.attn.kv")
    v = b.reshape(b.linear(h, d, name=f"{pre}.attn.v"), (bsz, t, heads, dh), name=f"{pre}.attn.vv")
    s = b.einsum("bmhk,bnhk->bhmn", q, k, name=f"{pre}.attn.scores")
    p = b.softmax(s, name=f"{pre}.attn.softmax")
    c = b.einsum("bhmn,bnhk->bmhk", p, v, name=f"{pre}.attn.context")
    c = b.reshape(c, (bsz * t, d), name=f"{pre}.attn.merge")
    x = b.add(x, b.linear(c, d, name=f"{pre}.attn.out"), name=f"{pre}.attn.add")
    if not pre_norm:
        x = b.layernorm(x, name=f"{pre}.attn.ln")
    h = b.layernorm(x, name=f"{pre}.ln_2") if pre_norm else x
    h = b.act(b.linear(h, ffn, name=f"{pre}.mlp.fc1"), "gelu", name=f"{pre}.mlp.gelu")
    x = b.add(x, b.linear(h, d, name=f"{pre}.mlp.fc2"), name=f"{pre}.mlp.add")
    if not pre_norm:
        x = b.layernorm(x, name=f"{pre}.mlp.ln")
    return x


def bert_base(batch=1, dtype="int8", seq_len=128) -> Graph:
    """BERT-base uncased (Devlin et al. 2019; Hugging Face ``bert-base-uncased`` config: 12 layers,
    d 768, 12 heads, FFN 3072, vocab 30522, 512 positions, 2 token types) incl. the pooler."""
    return _bert("bert_base", batch, dtype, seq_len, layers=12, d=768, heads=12, ffn=3072)


def bert_large(batch=1, dtype="int8", seq_len=384) -> Graph:
    """BERT-large uncased (Hugging Face ``bert-large-uncased`` config: 24 layers, d 1024, 16
    heads, FFN 4096, the base model's embeddings) incl. the pooler; 384 tokens by default, as in
    MLPerf's SQuAD benchmark."""
    return _bert("bert_large", batch, dtype, seq_len, layers=24, d=1024, heads=16, ffn=4096)


def _bert(name, batch, dtype, seq_len, layers, d, heads, ffn) -> Graph:
    if not 1 <= seq_len <= 512:
        raise ValueError(f"seq_len must be in 1..512 (got {seq_len})")
    b = GraphBuilder(name, dtype, batch)
    ids = b.input("input_ids", (batch, seq_len), "int32")
    tt = b.input("token_type_ids", (batch, seq_len), "int32")
    we = b.embedding(ids, 30522, d, name="embeddings.word")
    pe = b.embedding(None, 512, d, name="embeddings.position", rows=seq_len)
    te = b.embedding(tt, 2, d, name="embeddings.token_type")
    x = b.add(b.add(we, pe, name="embeddings.add_pos"), te, name="embeddings.add_type")
    x = b.layernorm(x, name="embeddings.ln")
    x = b.reshape(x, (batch * seq_len, d), name="embeddings.tokens")
    for i in range(layers):
        x = _encoder_layer(b, x, (batch, seq_len), d, heads, ffn, f"encoder.{i}", pre_norm=False)
    first = b.select(b.reshape(x, (batch, seq_len, d), name="pooler.view"), 1, 0, name="pooler.first")
    pooled = b.act(b.linear(first, d, name="pooler.dense"), "tanh", name="pooler.tanh")
    return b.finish([x, pooled], {"seq_len": seq_len})


def vit_b16(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``vit_b_16`` (Dosovitskiy et al. 2021): 16x16 patches, d 768, 12 layers,
    12 heads, MLP 3072, class token, learned positions, pre-norm."""
    if resolution % 16:
        raise ValueError(f"resolution must be a multiple of 16 (got {resolution})")
    b = GraphBuilder("vit_b16", dtype, batch)
    d = 768
    x = b.input("image", (batch, 3, resolution, resolution))
    x = b.conv(x, d, 16, 16, 0, bias=True, name="conv_proj")
    n_patch = (resolution // 16) ** 2
    x = b.reshape(x, (batch, d, n_patch), name="patches")
    x = b.transpose(x, (0, 2, 1), name="patches.t")
    cls = b.weight("class_token", (1, 1, d))
    x = b.concat([cls, x], 1, name="cat_class_token")
    t = n_patch + 1
    pos = b.weight("encoder.pos_embedding", (1, t, d))
    x = b.elementwise("add", [x, pos], name="encoder.add_pos")
    x = b.reshape(x, (batch * t, d), name="encoder.tokens")
    for i in range(12):
        x = _encoder_layer(b, x, (batch, t), d, 12, 3072, f"encoder.layers.{i}", pre_norm=True)
    x = b.layernorm(x, name="encoder.ln")
    x = b.select(b.reshape(x, (batch, t, d), name="encoder.view"), 1, 0, name="class_out")
    return b.finish([b.linear(x, classes, name="heads.head")])


# --- decoder-only LLMs ------------------------------------------------------------------------

#: what every Llama shares: RMSNorm, SwiGLU MLP, no biases, rotary positions
_LLAMA = dict(norm="rms", mlp="swiglu", bias=False, positions="rope")

PRESETS = {
    # Hugging Face ``gpt2`` config: n_layer 12, n_embd 768, n_head 12, n_inner 3072 (4 d),
    # vocab 50257, n_positions 1024, LayerNorm, GELU, biases, tied LM head.
    "gpt2": dict(layers=12, d_model=768, heads=12, kv_heads=12, ffn=3072, vocab=50257,
                 max_context=1024, norm="layer", mlp="gelu", bias=True, tied=True,
                 positions="learned"),
    # Hugging Face ``meta-llama/Llama-3.2-1B`` config: 16 layers, hidden 2048, 32 heads, 8 KV
    # heads, intermediate 8192, vocab 128256, RMSNorm, SwiGLU, no biases, tied embeddings, RoPE.
    "llama-1b": dict(layers=16, d_model=2048, heads=32, kv_heads=8, ffn=8192, vocab=128256,
                     max_context=131072, tied=True, **_LLAMA),
    # Hugging Face ``meta-llama/Llama-3.2-3B`` config: 28 layers, hidden 3072, 24 heads, 8 KV
    # heads, intermediate 8192, vocab 128256, tied embeddings, RoPE.
    "llama-3b": dict(layers=28, d_model=3072, heads=24, kv_heads=8, ffn=8192, vocab=128256,
                     max_context=131072, tied=True, **_LLAMA),
    # Hugging Face ``meta-llama/Meta-Llama-3-8B`` config: 32 layers, hidden 4096, 32 heads, 8 KV
    # heads, intermediate 14336, vocab 128256, untied LM head, 8192 positions.
    "llama-8b": dict(layers=32, d_model=4096, heads=32, kv_heads=8, ffn=14336, vocab=128256,
                     max_context=8192, tied=False, **_LLAMA),
    # Hugging Face ``meta-llama/Llama-2-7b-hf`` config: 32 layers, hidden 4096, 32 heads (MHA),
    # intermediate 11008, vocab 32000, untied LM head, 4096 positions.
    "llama-7b": dict(layers=32, d_model=4096, heads=32, kv_heads=32, ffn=11008, vocab=32000,
                     max_context=4096, tied=False, **_LLAMA),
}


def llm(batch=1, dtype="int8", layers=12, d_model=768, heads=12, kv_heads=None, ffn=3072,
        vocab=50257, max_context=1024, norm="layer", mlp="gelu", bias=True, tied=True,
        positions="learned", phase="prefill", seq_len=128, context=0, name="llm") -> Graph:
    """Decoder-only transformer from parameters, one forward step.

    ``phase="prefill"``: ``seq_len`` tokens, writing their K/V into per-layer ``state`` caches of
    ``seq_len`` positions. ``phase="decode"``: one token at ``context`` cached tokens: its K/V
    are written at position ``context`` of caches holding ``context + 1`` positions and attention
    reads all ``context + 1`` (exactly ``2 * layers * batch * kv_heads * (context + 1) * d_head``
    elements of KV cache). Logits are computed for every token of the step.
    """
    kv_heads = kv_heads or heads
    if d_model % heads or heads % kv_heads:
        raise ValueError(f"d_model {d_model}, heads {heads}, kv_heads {kv_heads} do not divide")
    if phase not in ("prefill", "decode"):
        raise ValueError(f"phase must be prefill or decode (got {phase!r})")
    if phase == "prefill":
        t, past = int(seq_len), 0
    else:
        t, past = 1, int(context)
    if t < 1 or past < 0 or past + t > max_context:
        raise ValueError(f"tokens {past}+{t} outside the model's context of {max_context}")
    dh, grp = d_model // heads, heads // kv_heads
    total = past + t
    b = GraphBuilder(name, dtype, batch)
    ids = b.input("input_ids", (batch, t), "int32")
    x = b.embedding(ids, vocab, d_model, name="embed_tokens")
    if positions == "learned":
        pe = b.embedding(None, max_context, d_model, name="embed_positions", rows=t, row_offset=past)
        x = b.add(x, pe, name="embed.add_pos")
    x = b.reshape(x, (batch * t, d_model), name="embed.tokens")
    for i in range(layers):
        pre = f"layers.{i}"
        h = b.layernorm(x, name=f"{pre}.norm_1", kind=norm, bias=norm == "layer")
        q = b.linear(h, d_model, bias=bias, name=f"{pre}.attn.q")
        k = b.linear(h, kv_heads * dh, bias=bias, name=f"{pre}.attn.k")
        v = b.linear(h, kv_heads * dh, bias=bias, name=f"{pre}.attn.v")
        if positions == "rope":
            q = b.act(q, "rope", name=f"{pre}.attn.rope_q")
            k = b.act(k, "rope", name=f"{pre}.attn.rope_k")
        qv = b.reshape(q, (batch, t, kv_heads, grp, dh), name=f"{pre}.attn.qv")
        kv = b.reshape(k, (batch, t, kv_heads, dh), name=f"{pre}.attn.kv")
        vv = b.reshape(v, (batch, t, kv_heads, dh), name=f"{pre}.attn.vv")
        kc = b.state(f"{pre}.k_cache", (batch, kv_heads, total, dh))
        vc = b.state(f"{pre}.v_cache", (batch, kv_heads, total, dh))
        b.cache_write(kv, kc, 2, past, (0, 2, 1, 3), name=f"{pre}.attn.k_write")
        b.cache_write(vv, vc, 2, past, (0, 2, 1, 3), name=f"{pre}.attn.v_write")
        s = b.einsum("bmhgk,bhnk->bhgmn", qv, kc, name=f"{pre}.attn.scores")
        p = b.softmax(s, name=f"{pre}.attn.softmax")
        c = b.einsum("bhgmn,bhnk->bmhgk", p, vc, name=f"{pre}.attn.context")
        c = b.reshape(c, (batch * t, d_model), name=f"{pre}.attn.merge")
        x = b.add(x, b.linear(c, d_model, bias=bias, name=f"{pre}.attn.out"), name=f"{pre}.attn.add")
        h = b.layernorm(x, name=f"{pre}.norm_2", kind=norm, bias=norm == "layer")
        if mlp == "swiglu":
            g = b.act(b.linear(h, ffn, bias=bias, name=f"{pre}.mlp.gate"), "silu", name=f"{pre}.mlp.silu")
            u = b.linear(h, ffn, bias=bias, name=f"{pre}.mlp.up")
            h = b.mul(g, u, name=f"{pre}.mlp.mul")
        else:
            h = b.act(b.linear(h, ffn, bias=bias, name=f"{pre}.mlp.fc"), "gelu", name=f"{pre}.mlp.gelu")
        x = b.add(x, b.linear(h, d_model, bias=bias, name=f"{pre}.mlp.proj"), name=f"{pre}.mlp.add")
    x = b.layernorm(x, name="norm_f", kind=norm, bias=norm == "layer")
    logits = b.linear(x, vocab, bias=False, name="lm_head",
                      weight="embed_tokens.weight" if tied else None)
    return b.finish([logits], {"phase": phase, "seq_len": t, "context": past, "layers": layers,
                               "kv_heads": kv_heads, "d_head": dh})


def _preset(preset, batch, dtype, phase, seq_len, context):
    return llm(batch, dtype, phase=phase, seq_len=seq_len, context=context, name=preset,
               **PRESETS[preset])


def gpt2(batch=1, dtype="int8", phase="prefill", seq_len=128, context=0) -> Graph:
    """GPT-2 small (124M), Hugging Face ``gpt2``; ``phase`` prefill (``seq_len`` tokens) or decode
    (one token at ``context``)."""
    return _preset("gpt2", batch, dtype, phase, seq_len, context)


def llama_1b(batch=1, dtype="int8", phase="prefill", seq_len=128, context=0) -> Graph:
    """Llama-style 1B (Llama 3.2 1B shape: GQA 32/8 heads, SwiGLU, RMSNorm, tied embeddings)."""
    return _preset("llama-1b", batch, dtype, phase, seq_len, context)


def llama_3b(batch=1, dtype="int8", phase="prefill", seq_len=128, context=0) -> Graph:
    """Llama 3.2 3B shape: 28 layers, d 3072, GQA 24/8 heads, SwiGLU, RMSNorm, tied embeddings."""
    return _preset("llama-3b", batch, dtype, phase, seq_len, context)


def llama_8b(batch=1, dtype="int8", phase="prefill", seq_len=128, context=0) -> Graph:
    """Llama 3 8B shape: 32 layers, d 4096, GQA 32/8 heads, FFN 14336, untied head, 8k context."""
    return _preset("llama-8b", batch, dtype, phase, seq_len, context)


def llama_7b(batch=1, dtype="int8", phase="prefill", seq_len=128, context=0) -> Graph:
    """Llama-style 7B (Llama 2 7B shape: 32 layers, d 4096, MHA, SwiGLU, untied head)."""
    return _preset("llama-7b", batch, dtype, phase, seq_len, context)
