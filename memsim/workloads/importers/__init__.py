"""Importers: ONNX (``onnx_import``), SCALE-Sim topology CSV (``scalesim``), YAML layer list
(``layerlist``); the ONNX exporter lives in ``onnx_export``."""
