# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Apache Airflow provider for the Gamma API (https://developers.gamma.app)."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
