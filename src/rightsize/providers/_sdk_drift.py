"""What changed in the installed provider SDKs that the adapters depend on: SDK drift.

The course installs the SDK versions pinned in ``constraints.txt``. A newer release can export an
exception class the error tables do not map (a learner would see a raw SDK error) or stop taking
a parameter an adapter sends. :func:`sdk_drift` lists both for the SDKs installed here, so

- the test suite asserts there is none on a locked install (and says which lock to refresh when
  the installed SDK is not the locked one), and
- ``python3 course.py drift`` runs it against the newest releases in a scratch environment before
  the lock is refreshed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from importlib import metadata

__all__ = ["SdkDrift", "sdk_drift"]

# the keyword arguments each adapter passes to the SDK's create(): its protocol's request body
# (rightsize.protocols) plus the adapter's own (timeout; extra_body for Messages); see _kwargs in each
OPENAI_PARAMETERS = ("model", "messages", "stream", "max_completion_tokens", "max_tokens", "temperature", "stop",
                     "seed", "response_format", "logprobs", "timeout", "stream_options")
ANTHROPIC_PARAMETERS = ("model", "messages", "max_tokens", "stream", "system", "stop_sequences", "timeout",
                        "extra_body")


@dataclass
class SdkDrift:
    """One SDK's drift: what it exports or takes that the adapters do not expect."""

    sdk: str
    version: str
    unmapped_errors: list[str] = field(default_factory=list)
    missing_parameters: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.unmapped_errors and not self.missing_parameters

    def lines(self) -> list[str]:
        out = []
        if self.unmapped_errors:
            out.append(f"{self.sdk} {self.version} exports exception classes the adapter does not map: "
                       f"{', '.join(self.unmapped_errors)} (add them to the error table)")
        if self.missing_parameters:
            out.append(f"{self.sdk} {self.version} no longer takes parameters the adapter sends: "
                       f"{', '.join(self.missing_parameters)}")
        return out


def _exported_errors(module: object, base: type) -> set[str]:
    names = [n for n in dir(module) if not n.startswith("_")]
    found = {n: getattr(module, n) for n in names}  # resolves lazily loaded names
    return {n for n, obj in found.items() if inspect.isclass(obj) and issubclass(obj, base)}


def _missing(function: object, wanted: tuple[str, ...]) -> list[str]:
    parameters = inspect.signature(function).parameters  # type: ignore[arg-type]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    return sorted(set(wanted) - set(parameters))


def sdk_drift() -> list[SdkDrift]:
    """The drift of the installed ``openai`` and ``anthropic`` SDKs against the adapters."""
    import anthropic
    import openai
    from anthropic.resources.messages import Messages
    from openai.resources.chat.completions import Completions

    from .anthropic_messages import ANTHROPIC_ERRORS
    from .openai_compat import OPENAI_ERRORS

    report = []
    for sdk, base, table, create, wanted in (
            (openai, openai.OpenAIError, OPENAI_ERRORS, Completions.create, OPENAI_PARAMETERS),
            (anthropic, anthropic.AnthropicError, ANTHROPIC_ERRORS, Messages.create, ANTHROPIC_PARAMETERS)):
        name = sdk.__name__
        report.append(SdkDrift(name, metadata.version(name),
                               unmapped_errors=sorted(_exported_errors(sdk, base) - set(table)),
                               missing_parameters=_missing(create, wanted)))
    return report


def main() -> int:
    """Print the drift report; exit 1 when there is drift (``python -m rightsize.providers._sdk_drift``)."""
    report = sdk_drift()
    for item in report:
        print(f"{item.sdk} {item.version}: " + ("no drift" if item.clean else "; ".join(item.lines())))
    return 0 if all(item.clean for item in report) else 1


if __name__ == "__main__":
    raise SystemExit(main())
