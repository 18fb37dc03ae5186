"""pinlab: an executable model of Linux page pinning and a checker for it.

Layers (imports go one way, top to bottom): ``cli`` -> ``report`` ->
``scenarios`` / ``selftests`` -> ``litmus`` / ``kernel`` -> ``engine``.
"""

__version__ = "0.1.0"
