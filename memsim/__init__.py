"""memsim: does this network meet its real-time deadline on this memory hierarchy?

The public API is a thin set of functions over the pipeline stages (see DESIGN §2):
``memsim.simulate(scenario) -> Result``.
"""

from memsim.version import __version__

__all__ = ["__version__", "simulate"]


def simulate(scenario, *, progress=None):
    """Run ``scenario`` (a validated Scenario or a path to a scenario YAML) and return a Result.

    Imported lazily so that ``import memsim`` stays cheap for the CLI.
    """
    from memsim.engine.run import simulate as _simulate

    return _simulate(scenario, progress=progress)
