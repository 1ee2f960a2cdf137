"""``opentelemetry_configurator`` entry point ``stackeye``: builds our pipeline under auto-instrumentation.

Stock ``opentelemetry-instrument`` calls :meth:`StackeyeConfigurator.configure` before loading
instrumentors (which the distro then does), so this is :func:`stackeye.instrumentation.init`
without its own auto-instrumentation pass.

>>> StackeyeConfigurator.__mro__[1].__name__
'_BaseConfigurator'
"""
from __future__ import annotations

from opentelemetry.sdk._configuration import _BaseConfigurator


class StackeyeConfigurator(_BaseConfigurator):
    def _configure(self, **kwargs) -> None:
        from .runtime import init

        init(auto_instrument=False)
