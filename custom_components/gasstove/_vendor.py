"""Make the ``gasstove`` library importable inside Home Assistant.

gasstove is not on PyPI, so ``stove ha install`` copies the library package
into ``custom_components/gasstove/lib/gasstove`` next to this file. We put
that folder at the *front* of ``sys.path`` so the component always runs the
library version it was installed with, even if another copy is installed
in Home Assistant's environment. Only the ``gasstove`` package lives there:
what it needs from others comes from the manifest's requirements (pydantic 2;
cryptography and PyYAML come with Home Assistant) through Home Assistant's
own installer, so nothing we ship can shadow a package another integration relies on.
"""

from __future__ import annotations

import sys
from pathlib import Path

LIB = Path(__file__).parent / "lib"


def ensure_library() -> None:
    if (LIB / "gasstove" / "__init__.py").is_file() and str(LIB) not in sys.path:
        sys.path.insert(0, str(LIB))


ensure_library()
