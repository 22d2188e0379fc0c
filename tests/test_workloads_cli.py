"""`memsim list networks` and `memsim show network`."""

import json

from typer.testing import CliRunner

from memsim.cli import app

runner = CliRunner()


def test_show_network_json_shape():
    r = runner.invoke(app, ["show", "network", "resnet50", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert list(data) == ["name", "params", "macs", "layers"]
    assert data["params"] == 25_557_032
    assert list(data["layers"][0]) == ["name", "op", "macs", "params", "weight_bytes",
                                       "input_bytes", "output_bytes"]
    assert sum(layer["macs"] for layer in data["layers"]) == data["macs"]


def test_show_network_table_and_options():
    r = runner.invoke(app, ["show", "network", "gpt2", "--phase", "decode", "--context", "3",
                            "--dtype", "fp16"])
    assert r.exit_code == 0 and "lm_head" in r.stdout


def test_list_networks():
    r = runner.invoke(app, ["list", "networks", "--json"])
    names = {n["name"] for n in json.loads(r.stdout)["networks"]}
    assert {"resnet50", "mobilenet_v2", "llama-7b", "person_detect"} <= names
    assert runner.invoke(app, ["list", "networks"]).exit_code == 0


def test_bad_input_exits_2(tmp_path):
    from memsim.cli import main

    p = tmp_path / "bad.csv"
    p.write_text("header\nConv1,224,x,7,7,3,64,2,\n")
    assert main(["show", "network", str(p)]) == 2
    assert main(["show", "network", "resnet18", "--dtype", "int7"]) == 2
