"""The names of the built-in networks, as the config validates them.

Config comes before workloads in the pipeline (workloads reads YAML through config), so the
scenario validator cannot ask the zoo for its names; tests/test_zoo.py requires this list to
equal the zoo's builders, so the two cannot drift apart.
"""

ZOO_NETWORKS = tuple(sorted((
    "alexnet", "vgg16", "resnet18", "resnet34", "resnet50", "mobilenet_v1", "mobilenet_v2",
    "efficientnet_b0", "ds_cnn", "person_detect", "yolov8n", "bert_base", "vit_b16", "gpt2",
    "llama-1b", "llama-7b", "llm", "resnet8", "inception_v1", "bert_large", "llama-3b",
    "llama-8b",
)))
