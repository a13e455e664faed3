"""Notice texts: the hall's templates (from its retained ``hall`` message) filled in (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


def _names(items: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), dict):
            out[str(item.get("id"))] = {k: str(v) for k, v in item["name"].items() if v}
    return out


def _pick(text: Any, lang: str) -> str:
    """A {"zh": …, "en": …} text in `lang`, falling back to Chinese."""
    if not isinstance(text, dict):
        return ""
    return str(text.get(lang) or text.get("zh") or "")


@dataclass(frozen=True)
class HallTexts:
    """What the gateway keeps of a hall's ``hall`` message: names and the `sms` settings."""

    hall: str
    name: dict[str, str] = field(default_factory=dict)
    windows: dict[str, dict[str, str]] = field(default_factory=dict)
    services: dict[str, dict[str, str]] = field(default_factory=dict)
    sms: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_message(cls, body: Mapping[str, Any]) -> HallTexts:
        sms = body.get("sms")
        name = body.get("name")
        return cls(
            hall=str(body.get("hall", "")),
            name={k: str(v) for k, v in name.items()} if isinstance(name, dict) else {},
            windows=_names(body.get("windows")),
            services=_names(body.get("services")),
            sms=dict(sms) if isinstance(sms, dict) else {},
        )

    def to_message(self) -> dict[str, Any]:
        """The inverse of from_message, to keep it in the outbox across restarts."""
        return {
            "hall": self.hall,
            "name": self.name,
            "windows": [{"id": k, "name": v} for k, v in self.windows.items()],
            "services": [{"id": k, "name": v} for k, v in self.services.items()],
            "sms": self.sms,
        }

    def lang_of(self, notice: Mapping[str, Any], default: str) -> str:
        lang = str(notice.get("lang") or default)
        return lang if lang in ("zh", "en") else "zh"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def status_link(link: str, notice: Mapping[str, Any], hall: str, lang: str) -> str:
    """The hall's status page link for the notice's ticket ({hall} {ticket} {secret} {lang});
    "" when the ticket or, if the link wants one, its secret is missing."""
    ticket, secret = str(notice.get("ticket") or ""), str(notice.get("secret") or "")
    if not link or not ticket or ("{secret}" in link and not secret):
        return ""
    for name, value in (("hall", hall), ("ticket", ticket), ("secret", secret), ("lang", lang)):
        link = link.replace(f"{{{name}}}", quote(value, safe=""))
    return link


def wait_range(span: Any, eta: Any) -> str:
    """The wait range as texts show it ("10–20"); one number when the range is one point or
    the notice has none (an older server), "" when there is no estimate at all."""
    if isinstance(span, list | tuple) and len(span) == 2:
        try:
            low, high = int(span[0]), int(span[1])
        except (TypeError, ValueError):
            low = high = -1
        if 0 <= low < high:
            return f"{low}–{high}"
        if 0 <= low == high:
            return str(low)
    return "" if eta is None else str(int(eta))


def fields(notice: Mapping[str, Any], hall: HallTexts, lang: str) -> dict[str, str]:
    """The template fields of a notice, in `lang`."""
    window = str(notice.get("window", ""))
    service = str(notice.get("service", ""))
    eta = notice.get("eta_minutes")
    eta_range = wait_range(notice.get("eta_range"), eta)
    rejoin = float(notice.get("rejoin_minutes") or 0)
    link = status_link(str(hall.sms.get("link", "")), notice, hall.hall, lang)
    return {
        "guide": _guide(hall, service, lang),
        "number": str(notice.get("number", "")),
        "window": str(notice.get("window_name") or "")
        or _pick(hall.windows.get(window), lang)
        or window,
        "service": str(notice.get("service_name") or "")
        or _pick(hall.services.get(service), lang)
        or service,
        "ahead": str(int(notice.get("ahead") or 0)),
        "eta": "" if eta is None else str(int(eta)),
        "eta_range": eta_range,
        "rejoin": f"{rejoin:g}",
        "link": link,
        "hall": _pick(hall.name, lang),
        "step": step_text(notice, hall, lang),
        "slot": str(notice.get("slot", "")),  # appointments
        "code": str(notice.get("code", "")),
    }


def step_text(notice: Mapping[str, Any], hall: HallTexts, lang: str) -> str:
    """一票到底: "（第2步/共2步：缴费）" for a ticket of several steps, "" otherwise."""
    step, steps = int(notice.get("step") or 0), int(notice.get("steps") or 0)
    if steps < 2 or not 0 < step <= steps or notice.get("kind") == "finished":
        return ""
    service = str(notice.get("service", ""))
    name = (
        str(notice.get("service_name") or "") or _pick(hall.services.get(service), lang) or service
    )
    if lang == "en":
        return f" (step {step} of {steps}: {name})"
    return f"（第{step}步/共{steps}步：{name}）"


def _guide(hall: HallTexts, service: str, lang: str) -> str:
    """The service's guide page (办事指南), from the hall's `guide_link`."""
    link = str(hall.sms.get("guide_link", ""))
    if not link or not service:
        return ""
    link = link.replace("{hall}", hall.hall).replace("{service}", service)
    return link + ("?lang=en" if lang == "en" else "")


def template_of(notice: Mapping[str, Any], hall: HallTexts, lang: str) -> str:
    kind = str(notice.get("kind", ""))
    if kind == "ticket_taken" and notice.get("eta_minutes") is None:
        kind = "ticket_taken_no_eta"
    templates = hall.sms.get("templates")
    return _pick(templates.get(kind) if isinstance(templates, dict) else None, lang)


def signature(hall: HallTexts, lang: str) -> str:
    return _pick(hall.sms.get("signature"), lang) or _pick(hall.name, lang)


def render(notice: Mapping[str, Any], hall: HallTexts, lang: str) -> str:
    """The SMS text: 【signature】 and the kind's template filled in; "" if the hall has no
    template for this kind."""
    template = template_of(notice, hall, lang)
    if not template:
        return ""
    values = fields(notice, hall, lang)
    body = template.format_map(_Blank(values))
    if "{step}" not in template:  # a hall's own template may place it; else it goes last
        body += values["step"]
    sign = signature(hall, lang)
    return f"【{sign}】{body}" if sign else body


@dataclass(frozen=True)
class ProviderTemplate:
    """A provider's approved template for a notice: its code and the filled parameters
    (a map for Aliyun's TemplateParam, a list for Tencent's TemplateParamSet)."""

    code: str
    params: dict[str, str] | list[str]
    sign_name: str


def provider_template(
    notice: Mapping[str, Any], hall: HallTexts, provider: str, lang: str
) -> ProviderTemplate | None:
    table = hall.sms.get(provider)
    entry = table.get(str(notice.get("kind"))) if isinstance(table, dict) else None
    if not isinstance(entry, dict) or not entry.get("template"):
        return None
    values = fields(notice, hall, lang)
    spec = entry.get("params") or {}
    params: dict[str, str] | list[str]
    if isinstance(spec, dict):
        params = {str(k): values.get(str(v), "") for k, v in spec.items()}
    else:
        params = [values.get(str(v), "") for v in spec]
    # The provider's approved signature is the Chinese one (without 【】).
    return ProviderTemplate(str(entry["template"]), params, signature(hall, "zh"))
