"""What a person sees of gasstove in Home Assistant's own frontend, in English and Chinese.

One story per language, as a new user lives it: add the stove through the UI
(two burners on simulated miio relays), look at the default dashboard and at
the device page, press "shut off now" on the dashboard and look again once the
cut is confirmed and the loop is closed. Every page is read as a person reads
it (its rendered text, through every shadow root) and must show:

* no raw translation key (``component.gasstove...``, ``[object ...]``,
  ``entity.*``, an unfilled ``{placeholder}``);
* on the Chinese pages, none of the integration's English strings;
* right after a confirmed cut, no gasstove state that reads as gas flowing
  (open / on / 打开 / 开启);
* no card header toggle that acts on the stove's burners all at once.

Every page is saved as a PNG in build/browser/, or in docs/images/ (the docs show them)
with ``GASSTOVE_BROWSER_IMAGES=docs/images``. All findings
of a run are collected and reported together.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from .conftest import IMAGES, SOURCE, TOKEN, Hass, SimRelay

log = logging.getLogger("browser")
COMPONENT = SOURCE / "custom_components" / "gasstove"

#: The story's words, per frontend language: stove and burner names as a person types them.
STORY = {
    "en": {"stove": "Kitchen", "burners": ["Left", "Right"], "keys": ["left", "right"]},
    # keys: the ASCII keys the names get inside (entity ids), never shown to a person.
    "zh-Hans": {"stove": "厨房", "burners": ["左灶", "右灶"], "keys": ["zuo_zao", "you_zao"]},
}
if os.environ.get("GASSTOVE_BROWSER_BURNERS"):
    # "Before" pictures of a version that took ASCII burner keys only (before issue 21).
    for story in STORY.values():
        story["burners"] = os.environ["GASSTOVE_BROWSER_BURNERS"].split(",")

#: Raw keys and unfilled placeholders: text the frontend shows when a translation is missing.
RAW_KEY = re.compile(r"component\.gasstove|\[object [A-Za-z]+\]|\bentity\.[a-z_]+\.[a-z_]+"
                     r"|\bui\.(?:panel|card|dialogs|components)\.[a-z_.]+|\{(?:burner|stove|burners)\}")
#: Four or more lower-case English words in a row: a sentence nobody translated (HA's own
#: Chinese pages have none; names such as "Home Assistant" are capitalised).
ENGLISH_SENTENCE = re.compile(r"\b[a-z]{2,}(?:[ ,;:()]+[a-z]{2,}){3,}\b")
#: A state that reads as gas flowing.
GAS_ON = re.compile(r"\b(?:open|opened|opening|on)\b|打开|开启|已开", re.IGNORECASE)


def _leaves(node: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    if isinstance(node, dict):
        out: dict[tuple[str, ...], str] = {}
        for key, value in node.items():
            out.update(_leaves(value, (*path, key)))
        return out
    return {path: str(node)}


def english_strings() -> list[str]:
    """The integration's English strings that its Chinese translation replaces: each
    fragment between placeholders, of 4 characters or more, that the Chinese file does
    not itself contain (brand names like MQTT, Tasmota stay as they are)."""
    en = _leaves(json.loads((COMPONENT / "translations" / "en.json").read_text()))
    zh_text = (COMPONENT / "translations" / "zh-Hans.json").read_text()
    fragments: set[str] = set()
    for text in en.values():
        # Markdown links and code are addresses and commands, the same in every language.
        text = re.sub(r"\]\([^)]*\)|`[^`]*`", " ", text)
        for fragment in re.split(r"\{[^}]*\}|[.:;,()\[\]!?\"'«»…]", text):
            fragment = fragment.strip()
            if len(fragment) >= 4 and re.search(r"[A-Za-z]{3}", fragment) and fragment not in zh_text:
                fragments.add(fragment)
    return sorted(fragments, key=len, reverse=True)


#: Every text node and text-bearing attribute of the page, through every open shadow root.
DEEP_TEXT = """() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const t = node.textContent.trim();
      if (t) out.push(t);
      return;
    }
    if (node.nodeName === 'STYLE' || node.nodeName === 'SCRIPT') return;
    if (node.nodeType === Node.ELEMENT_NODE) {
      for (const a of ['label', 'title', 'placeholder', 'aria-label', 'helper']) {
        const v = node.getAttribute(a);
        if (v && v.trim()) out.push(v.trim());
      }
      if (node.shadowRoot) walk(node.shadowRoot);
    }
    for (const c of node.childNodes) walk(c);
  };
  walk(document);
  return out.join('\\n');
}"""

#: Every card header toggle on the page and the entities it would switch.
HEADER_TOGGLES = """() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      // The entities it would switch (the frontend's own list of the toggleable ones).
      if (el.localName === 'hui-entities-toggle') found.push(Array.from(
        el._toggleEntities || el.entities || []).map((e) => typeof e === 'string' ? e : e.entity));
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""

#: The entity rows that show a toggle, by entity id.
ROW_TOGGLES = """() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.localName === 'ha-entity-toggle' && el.stateObj) found.push(el.stateObj.entity_id);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""

HASS = "document.querySelector('home-assistant').hass"

#: The icon each entity row shows, by entity id (as rendered, after icons.json is applied).
ROW_ICONS = """() => {
  const found = {};
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.localName === 'ha-state-icon' && el.stateObj) {
        const icon = el.shadowRoot && el.shadowRoot.querySelector('ha-icon');
        if (icon && icon.icon) found[el.stateObj.entity_id] = icon.icon;
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""

#: True once the config flow dialog shows a step and waits for the person (not loading).
FLOW_IDLE = """() => {
  const find = (root, name) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.localName === name) return el;
      if (el.shadowRoot) { const hit = find(el.shadowRoot, name); if (hit) return hit; }
    }
    return null;
  };
  const dialog = find(document, 'dialog-data-entry-flow');
  if (!dialog || dialog._loading || find(dialog.shadowRoot || dialog, 'step-flow-loading')) return false;
  const form = find(dialog.shadowRoot || dialog, 'step-flow-form');
  return !form || !form._loading;
}"""


class Story:
    """One language's walk through the UI; collects what a person would object to."""

    def __init__(self, hass: Hass, page: Page, language: str) -> None:
        self.hass = hass
        self.page = page
        self.language = language
        self.suffix = "en" if language == "en" else "zh"
        self.problems: list[str] = []
        self.english = english_strings() if language != "en" else []

    # -- reading the page -------------------------------------------------
    def ws(self, message: dict[str, Any]) -> Any:
        return self.page.evaluate(f"(m) => {HASS}.callWS(m)", message)

    def states(self) -> dict[str, Any]:
        return self.page.evaluate(f"() => {HASS}.states")

    def localize(self, key: str) -> str:
        text = self.page.evaluate(f"(k) => {HASS}.localize(k)", key)
        assert text, f"the frontend has no text for {key}"
        return str(text)

    def text(self) -> str:
        return str(self.page.evaluate(DEEP_TEXT))

    def settle(self, seconds: float = 1.5) -> None:
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(seconds * 1000)

    def look(self, name: str, what: str) -> str:
        """Save the page as <IMAGES>/<name>-<lang>.png (a config flow's dialog alone)
        and check the whole page's text."""
        self.settle()
        path = IMAGES / f"{name}-{self.suffix}.png"
        surface = self.page.locator("dialog-data-entry-flow .mdc-dialog__surface")
        if name.startswith("config-flow") and surface.count() == 1:
            surface.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path))
        text = self.text()
        log.info("%s: %s (%s, %d characters of text)", self.language, what, path, len(text))
        self.check(name, what, text)
        return text

    def check(self, name: str, what: str, text: str) -> None:
        for match in sorted({m.group(0) for m in RAW_KEY.finditer(text)}):
            self.problems.append(f"{name} [{self.language}]: raw translation key {match!r} on {what}")
        for english in self.english:
            if english in text:
                self.problems.append(f"{name} [{self.language}]: untranslated English {english!r} on {what}")
        if self.language != "en":
            for match in sorted({m.group(0) for m in ENGLISH_SENTENCE.finditer(text)}):
                self.problems.append(f"{name} [{self.language}]: English sentence {match!r} on {what}")
            for key in STORY[self.language]["keys"]:
                if key in text:
                    self.problems.append(f"{name} [{self.language}]: the burner's key {key!r} on {what}")

    # -- doing things -----------------------------------------------------
    def goto(self, path: str) -> None:
        """Open a page of the frontend and wait until it is connected and translated."""
        self.page.goto(f"{self.hass.url}{path}")
        self.page.wait_for_function(
            f"() => {HASS} && {HASS}.states && {HASS}.localize && {HASS}.localize('ui.common.ok')",
            timeout=60_000)

    def dialog(self) -> Any:
        return self.page.locator("dialog-data-entry-flow")

    def fill(self, label: str, value: str) -> None:
        self.dialog().get_by_label(label, exact=True).fill(value)

    def flow_idle(self) -> None:
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(FLOW_IDLE, timeout=30_000)

    def submit(self) -> None:
        self.dialog().get_by_role("button", name=self.localize(
            "ui.panel.config.integrations.config_flow.submit")).click()
        self.flow_idle()

    def choose(self, option: str) -> None:
        self.dialog().get_by_text(option, exact=True).click()
        self.flow_idle()


def translations(language: str) -> dict[str, Any]:
    name = "en" if language == "en" else language
    return json.loads((COMPONENT / "translations" / f"{name}.json").read_text())  # type: ignore[no-any-return]


def add_stove(story: Story, relays: list[SimRelay]) -> None:
    """The config flow, through the UI, as a person fills it."""
    words = translations(story.language)["config"]["step"]
    names = STORY[story.language]
    page = story.page
    story.goto("/config/integrations/dashboard/add?domain=gasstove")
    # "Do you want to set up Gas stove (gasstove)?"
    page.get_by_role("button", name=story.localize("ui.common.ok"), exact=True).click()
    story.dialog().get_by_label(words["user"]["data"]["name"], exact=True).wait_for(timeout=30_000)
    story.fill(words["user"]["data"]["name"], names["stove"])
    story.look("config-flow-stove", "the config flow's first form")
    story.submit()
    for index, (burner, relay) in enumerate(zip(names["burners"], relays, strict=True)):
        menu = words["relay_type" if index == 0 else "next"]["menu_options"]
        if index == 1:
            story.look("config-flow-next", "the config flow after the first burner")
        story.choose(menu["miio"])
        miio = words["miio"]["data"]
        story.fill(miio["burner"], burner)
        story.fill(miio["host"], relay.host)
        story.fill(miio["token"], "00112233445566778899aabbccddeef0" if index == 0 else TOKEN)
        if index == 0:
            # A wrong token first: the error must be on the token's field, in words.
            story.submit()
            text = story.look("config-flow-error", "the miio form after a wrong token")
            error = translations(story.language)["config"]["error"]["invalid_auth"]
            if error not in text:
                story.problems.append(f"config-flow-error [{story.language}]: "
                                      f"no {error!r} after a wrong token")
            story.fill(miio["token"], TOKEN)
        story.submit()
    story.choose(words["next"]["menu_options"]["finish"])
    story.look("config-flow-done", "the config flow's last page")
    page.keyboard.press("Escape")
    story.settle(1.0)


def device_and_entities(story: Story) -> tuple[str, list[dict[str, Any]]]:
    devices = [d for d in story.ws({"type": "config/device_registry/list"})
               if any(i[0] == "gasstove" for i in d["identifiers"])]
    assert len(devices) == 1, f"one gasstove device expected, found {devices}"
    entities = [e for e in story.ws({"type": "config/entity_registry/list"})
                if e["device_id"] == devices[0]["id"]]
    return devices[0]["id"], entities


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_what_a_person_sees(language: str, boot_hass: Callable[[str], Hass], chromium: Browser,
                            miio_relays: Callable[[str], SimRelay]) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    log.info("screenshots go to %s; Home Assistant runs the integration of %s", IMAGES, SOURCE)
    relays = [miio_relays("left"), miio_relays("right")]
    hass = boot_hass(language)
    context = chromium.new_context(viewport={"width": 1280, "height": 1280}, locale=language,
                                   timezone_id="Asia/Shanghai")
    # Nothing leaves this machine: the frontend would fetch integration logos from a
    # public host; every request that is not to this Home Assistant is refused.
    context.route(re.compile(r"^(?!" + re.escape(hass.url) + r"[/?]|" + re.escape(hass.url) + r"$)"),
                  lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(hass.callback_url())
        page.wait_for_function(f"() => {HASS} && {HASS}.user", timeout=60_000)
        story = Story(hass, page, language)
        # The owner's profile language (the onboarding's first page sets it as well).
        story.ws({"type": "frontend/set_user_data", "key": "language", "value": {
            "language": language, "number_format": "language", "time_format": "language",
            "date_format": "language", "time_zone": "local", "first_weekday": "language"}})
        page.reload()
        page.wait_for_function(f"() => {HASS} && {HASS}.language === '{language}'", timeout=60_000)
        log.info("%s: logged in through the onboarding's auth callback; profile language %s",
                 language, language)

        add_stove(story, relays)
        device_id, entities = device_and_entities(story)
        ids = {e["entity_id"] for e in entities}
        log.info("%s: device %s with %d entities: %s", language, device_id, len(ids), sorted(ids))

        story.goto("/lovelace/0")
        page.locator("hui-entities-card").first.wait_for(timeout=30_000)
        story.look("dashboard", "the default dashboard")
        for toggled in page.evaluate(HEADER_TOGGLES):
            ours = sorted(set(toggled) & ids)
            if ours:
                story.problems.append(f"dashboard [{language}]: a card header toggle switches "
                                      f"{len(ours)} gasstove entities at once: {ours}")
        for entity_id in sorted(set(page.evaluate(ROW_TOGGLES)) & ids):
            story.problems.append(f"dashboard [{language}]: {entity_id} is shown as a toggle")

        story.goto(f"/config/devices/device/{device_id}")
        page.locator("ha-config-device-page").wait_for(timeout=30_000)
        story.look("device", "the device page")

        # Shut off the first burner from the dashboard, as a person would.
        first = STORY[language]["burners"][0]
        button = burner_entity(story, entities, "button", "shut_off", first)
        last = burner_entity(story, entities, "sensor", "last_shut_off", first, required=False)
        story.goto("/lovelace/0")
        page.locator("hui-entities-card").first.wait_for(timeout=30_000)
        story.settle()
        row = page.locator("hui-button-entity-row").filter(
            has_text=story.states()[button]["attributes"]["friendly_name"]
            .removeprefix(STORY[language]["stove"]).strip())
        pressed_at = time.monotonic()
        row.get_by_role("button").click()
        # The physical facts first: the flame went out, then the cut ended (loop closed).
        wait_for(lambda: not relays[0].burner.lit, "the simulated burner to go out after the press")
        story.check("toast-after-press", "the dashboard as the cut happens", story.text())
        wait_for(lambda: not relays[0].device.energised, "the relay to close the loop again")
        if last:
            wait_for(lambda: story.states()[last]["state"] == "confirmed", f"{last} to read confirmed")
        log.info("%s: the burner went out and the cut ended %.1f s after the press",
                 language, time.monotonic() - pressed_at)
        story.look("dashboard-after-shut-off", "the dashboard after a confirmed shut-off")
        for entity_id in sorted(ids):
            shown = story.page.evaluate(f"(id) => {HASS}.formatEntityState({HASS}.states[id])", entity_id)
            if GAS_ON.search(shown):
                story.problems.append(f"dashboard-after-shut-off [{language}]: {entity_id} reads "
                                      f"{shown!r} right after a confirmed cut")
        story.goto(f"/config/devices/device/{device_id}")
        page.locator("ha-config-device-page").wait_for(timeout=30_000)
        story.look("device-after-shut-off", "the device page after a confirmed shut-off")

        # The second burner's relay stops answering; a person presses its "shut off now".
        second = STORY[language]["burners"][1]
        button = burner_entity(story, entities, "button", "shut_off", second)
        last = burner_entity(story, entities, "sensor", "last_shut_off", second, required=False)
        relays[1].device.settings.loss = 1.0
        story.goto("/lovelace/0")
        page.locator("hui-entities-card").first.wait_for(timeout=30_000)
        story.settle()
        page.locator("hui-button-entity-row").filter(
            has_text=story.states()[button]["attributes"]["friendly_name"]
            .removeprefix(STORY[language]["stove"]).strip()).get_by_role("button").click()
        toast = page.locator("ha-toast")
        toast.first.wait_for(state="attached", timeout=30_000)
        story.look("shut-off-failed", "the dashboard as a shut-off fails (its toast)")
        # A lock that is not known to be locked must not show a closed padlock.
        for entity_id, icon in page.evaluate(ROW_ICONS).items():
            lock_state = story.states()[entity_id]["state"] if entity_id in ids else None
            if entity_id.startswith("lock.") and lock_state != "locked" and icon == "mdi:lock":
                story.problems.append(f"shut-off-failed [{language}]: {entity_id} is {lock_state} "
                                      f"but shows a closed padlock ({icon})")
        if last:
            wait_for(lambda: story.states()[last]["state"] == "failed", f"{last} to read failed")
        page.locator("ha-sidebar").get_by_text(story.localize("ui.notification_drawer.title"),
                                               exact=True).click()
        page.locator("notification-drawer").wait_for(timeout=30_000)
        story.look("notification-failed", "the notifications after a failed shut-off")
    except Exception:
        log.error("Home Assistant's log, last lines:\n%s", hass.log_tail())
        page.screenshot(path=str(IMAGES / f"failure-{language}.png"))
        raise
    finally:
        context.close()
    log.info("%s: %d problem(s)", language, len(story.problems))
    assert not story.problems, "\n".join(story.problems)


def burner_entity(story: Story, entities: list[dict[str, Any]], domain: str, key: str,
                  burner: str, *, required: bool = True) -> str | None:
    """The entity id of this kind (``translation_key``) whose name shows this burner's name."""
    states = story.states()
    for entity in entities:
        entity_id = str(entity["entity_id"])
        if (entity_id.startswith(f"{domain}.") and entity.get("translation_key") == key
                and burner.lower() in states[entity_id]["attributes"].get("friendly_name", "").lower()):
            return entity_id
    if required:
        raise AssertionError(f"no {domain} {key} of {burner} in {[e['entity_id'] for e in entities]}")
    return None
