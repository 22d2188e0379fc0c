"""The built-in zoo: name -> builder ``fn(batch=1, dtype="int8", **params) -> Graph``."""

from __future__ import annotations

from memsim.workloads.zoo import cnn, transformers, yolo

ZOO = {
    "alexnet": cnn.alexnet,
    "vgg16": cnn.vgg16,
    "resnet18": cnn.resnet18,
    "resnet34": cnn.resnet34,
    "resnet50": cnn.resnet50,
    "resnet8": cnn.resnet8,
    "inception_v1": cnn.inception_v1,
    "mobilenet_v1": cnn.mobilenet_v1,
    "mobilenet_v2": cnn.mobilenet_v2,
    "efficientnet_b0": cnn.efficientnet_b0,
    "ds_cnn": cnn.ds_cnn,
    "person_detect": cnn.person_detect,
    "yolov8n": yolo.yolov8n,
    "bert_base": transformers.bert_base,
    "bert_large": transformers.bert_large,
    "vit_b16": transformers.vit_b16,
    "gpt2": transformers.gpt2,
    "llama-1b": transformers.llama_1b,
    "llama-3b": transformers.llama_3b,
    "llama-7b": transformers.llama_7b,
    "llama-8b": transformers.llama_8b,
    "llm": transformers.llm,
}
