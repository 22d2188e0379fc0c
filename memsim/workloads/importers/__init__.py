"""Importers: ONNX (``onnx_import``), SCALE-Sim topology CSV (``scalesim``), YAML layer list
(``layerlist``); the exporters live in ``onnx_export`` (ONNX) and ``scalesim_export`` (SCALE-Sim
topology CSV)."""
