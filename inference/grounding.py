"""Molmo2's grounded answers as data: `<points>`/`<tracks>` elements parsed (also while streaming), converted to
pixels and video frames, and exported as JSON or CSV. Grammar and examples: ../shared/docs/molmo2-inference.md §11.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["points", "tracks"]

# Caps (README "Grounding results"): above real answers (a 384-frame track of ~25 objects is < 10,000 points) and
# low enough that degenerate output costs bounded work, so 1 MB of anything parses in a few tens of milliseconds.
MAX_ELEMENTS = 100  # element tags read per answer; the rest of the answer stays plain text
MAX_POINTS = 10_000  # points kept per answer
MAX_GROUPS = MAX_POINTS  # coords groups read per answer (each real group holds at least one point)
MAX_COORDS_CHARS = 16 * MAX_POINTS  # coords text read per answer: "9999 555 169 " plus a share of its group key
MAX_TEXT = 200  # characters kept of a label or an alt text
MAX_ATTRIBUTES = 8  # attributes read per tag
MAX_TOKEN = 12  # longest number read in coords ("1234567.5"); anything longer is garbage
TIME_TOLERANCE = 0.051  # s; prompts write frame times with one decimal (§11.1), so a key within 0.05 s is that frame
CSV_COLUMNS = ("object", "kind", "label", "id", "image", "time", "frame", "x", "y", "x_px", "y_px")


@dataclass(frozen=True)
class Point:
    key: int | float  # 1-based image index (int) or time in seconds (float, video)
    id: int  # pointing: 1..N across all groups; tracking: the object's identity (§11.1)
    x: float  # normalised to [0, 1] over the original width
    y: float  # normalised to [0, 1] over the original height


@dataclass(frozen=True)
class GroundedObject:
    kind: Kind
    label: str
    alt: str | None
    points: tuple[Point, ...]

    @property
    def count(self) -> int:
        """Objects this element marks: distinct ids (pointing ids run 1..N, tracking ids are identities)."""
        return len({p.id for p in self.points})


@dataclass(frozen=True)
class StreamedPoint:
    element: int  # 0-based position of its element among the answer's elements so far
    kind: Kind
    point: Point


@dataclass(frozen=True)
class MediaLayout:
    sizes: tuple[tuple[int, int], ...]  # (width, height) of each original image, or one entry: the video frame size
    frame_times: tuple[float, ...] | None = None  # seconds written into the prompt, ascending
    frame_indices: tuple[int, ...] | None = None  # original-video frame decoded for each prompt time
    fps: float | None = None  # of the original video

    def __post_init__(self):
        if not self.sizes:
            raise ValueError("MediaLayout needs at least one (width, height)")
        if self.frame_indices is not None and len(self.frame_indices) != len(self.frame_times or ()):
            raise ValueError("frame_indices needs one entry per frame time")
        if self.frame_times is not None and list(self.frame_times) != sorted(self.frame_times):
            raise ValueError("frame_times must be ascending")


@dataclass(frozen=True)
class Grounding:
    objects: tuple[GroundedObject, ...]
    stated_count: int | None = None  # the number the answer's words state ("... shows a total of 3.")
    warnings: tuple[str, ...] = ()
    text: str = ""  # the answer for display: each element replaced by its label

    @property
    def derived_count(self) -> int:
        return sum(o.count for o in self.objects)

    @property
    def count(self) -> int | None:
        if self.stated_count is not None:
            return self.stated_count
        return self.derived_count if self.objects else None

    @property
    def is_video(self) -> bool:
        return any(isinstance(p.key, float) for o in self.objects for p in o.points)

    def to_dict(self, layout: MediaLayout | None = None) -> dict[str, Any]:
        """The JSON schema of the README; with a layout each point also gets x_px, y_px and, for video, frame."""
        notes: dict[str, int] = {}
        objects = [
            {
                "kind": o.kind,
                "label": o.label,
                "alt": o.alt,
                "points": [_point_dict(p, layout, notes) for p in o.points],
            }
            for o in self.objects
        ]
        return {"objects": objects, "count": self.count, "warnings": [*self.warnings, *_messages(notes)]}


def point_pixels(point: Point, width: int, height: int) -> tuple[float, float]:
    """THE normalised → pixel conversion: coordinates cover the whole original image or frame (§11.2)."""
    return point.x * width, point.y * height


def frame_for_time(
    t: float, frame_times: tuple[float, ...] | None, frame_indices: tuple[int, ...] | None, fps: float | None = None
) -> int:
    """THE time → original-frame conversion.

    Keys are the prompt's frame times (§11.1), so a key maps to the frame decoded for the nearest prompt time (ties:
    the earlier); a key between or outside them therefore lands on the nearest frame the model saw (`to_dict` warns
    when it is more than TIME_TOLERANCE away). Without decoded indices the prompt time is converted with
    round(t · fps); without prompt times the key itself is (§11.2).
    """
    if frame_times:
        i = _nearest(t, frame_times)
        if frame_indices is not None:
            return frame_indices[i]
        t = frame_times[i]
    if fps is None:
        raise ValueError("frame_for_time needs the prompt's frame indices or the video's fps")
    return round(t * fps)


def _nearest(t: float, times: tuple[float, ...]) -> int:
    i = bisect.bisect_left(times, t)
    if i == len(times) or (i > 0 and t - times[i - 1] <= times[i] - t):
        return i - 1
    return i


def _point_dict(p: Point, layout: MediaLayout | None, notes: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"key": p.key, "id": p.id, "x": p.x, "y": p.y}
    if layout is None:
        return row
    if isinstance(p.key, float):
        size = layout.sizes[0]
        row["frame"] = None
        if layout.frame_times or layout.fps is not None:
            row["frame"] = frame_for_time(p.key, layout.frame_times, layout.frame_indices, layout.fps)
        if layout.frame_times and abs(layout.frame_times[_nearest(p.key, layout.frame_times)] - p.key) > TIME_TOLERANCE:
            _note(notes, "points at times the prompt did not show were placed on the nearest frame it did")
    elif p.key <= len(layout.sizes):
        size = layout.sizes[p.key - 1]
    else:
        size = None
        _note(notes, f"points on images after the {len(layout.sizes)} given have no pixel position")
    x_px, y_px = point_pixels(p, *size) if size else (None, None)
    row["x_px"] = None if x_px is None else round(x_px, 2)
    row["y_px"] = None if y_px is None else round(y_px, 2)
    return row


def to_csv(g: Grounding, layout: MediaLayout | None = None) -> str:
    """One row per point (CSV_COLUMNS); image or time by mode, frame and pixels when the layout gives them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for n, obj in enumerate(g.to_dict(layout)["objects"], 1):
        for p in obj["points"]:
            video = isinstance(p["key"], float)
            image, time = (None, p["key"]) if video else (p["key"], None)
            row = (n, obj["kind"], obj["label"], p["id"], image, time, p.get("frame"), p["x"], p["y"])
            writer.writerow((*row, p.get("x_px"), p.get("y_px")))
    return out.getvalue()


def format_grounding(g: Grounding) -> str:
    """The elements in Molmo2's own format (html-v2, §11.1); `parse` reads them back to the same objects."""
    return " ".join(_format_object(o) for o in g.objects)


def _format_object(o: GroundedObject) -> str:
    groups: list[tuple[int | float, list[str]]] = []  # consecutive points with the same key share a group
    for p in o.points:
        triple = f"{p.id} {round(p.x * 1000):03d} {round(p.y * 1000):03d}"
        if groups and groups[-1][0] == p.key:
            groups[-1][1].append(triple)
        else:
            groups.append((p.key, [triple]))
    coords = ";".join(f"{_format_key(key)} {' '.join(triples)}" for key, triples in groups)
    alt = "" if o.alt is None else f' alt="{o.alt}"'
    return f'<{o.kind}{alt} coords="{coords}">{o.label}</{o.kind}>'


def _format_key(key: int | float) -> str:
    if isinstance(key, int):
        return str(key)
    short = f"{key:.1f}"  # the prompt's own formatting; longer only when the time needs it
    return short if float(short) == key else repr(key)


def parse(text: str) -> Grounding:
    """Everything Molmo2 says, as a Grounding. Total (malformed input becomes warnings) and linear in len(text)."""
    scanner = _Scanner(stream=False)
    scanner.feed(text)
    return scanner.finish()


class StreamingParser:
    """Feed the answer as it streams: `feed` returns the points its text completed, `result` the whole Grounding.

    A point is complete once the delimiter after its y has arrived; repeated ids, out-of-range values and the point
    cap are applied at once, repeated tracks and elements only by `result`, which is authoritative.
    """

    def __init__(self):
        self._scanner = _Scanner(stream=True)
        self._deltas: list[str] = []

    def feed(self, delta: str) -> list[StreamedPoint]:
        self._deltas.append(delta)
        return self._scanner.feed(delta)

    def result(self) -> Grounding:
        """The answer so far, parsed as a whole; a cut-off final element keeps its complete points."""
        return parse("".join(self._deltas))


# The scanner is a state machine over text pieces: each state finds its next delimiter with one C-level search
# (str.find or a single-character-class regex), so every character is examined a bounded number of times and
# Python-level work is bounded by the caps above. No regex runs over the whole answer with nested quantifiers.
_START = re.compile(r"<(points|tracks)(?=[\s>/])")
_ATTRIBUTE = re.compile(r"([A-Za-z_][\w.:-]{0,31})[ \t\r\n]{0,8}=[ \t\r\n]{0,8}([\"'])")  # at most 50 characters
_ATTRIBUTE_SPAN = 64  # more than _ATTRIBUTE can match: a failed match this long is final
_SPACE = re.compile(r"\s+")
_TAG_END = re.compile(r"[<>]")
_VALUE_END = {'"': re.compile(r'["<>]'), "'": re.compile(r"['<>]")}
# Group separators: ';' (html-v2), tab (html-v1), and ':' ',' which the official parser also accepts (§11.1); every
# other whitespace character becomes a space, so str.split() and the streaming token boundary agree.
_COORDS_TABLE = {c: " " for c in range(0x3001) if chr(c).isspace()} | {ord(c): ";" for c in "\t:,"}
# §11.1 wrappers, on lowercased text; starts with a literal so the search skips ahead in C ("\b" first would not).
_COUNT = re.compile(r"t(?:otal of|here (?:are|is)) (?:([0-9]{1,6})\b|none\b)")
_STRAY_CLOSERS = ("</points>", "</tracks>")


@dataclass
class _Element:
    """An element being read: its attributes so far and the coords reader's state."""

    kind: Kind
    alt: str | None = None  # kept to MAX_TEXT + 1 characters while reading
    label: str = ""  # kept to MAX_TEXT + 1 characters while reading
    coords_seen: bool = False
    attribute: str = ""  # whose value is being read
    quote: str = '"'
    attributes: int = 0
    key: int | float | None = None  # of the group being read; None between groups
    skip_group: bool = False  # the group's key was invalid: ignore its tokens
    carry: list[str] = field(default_factory=list)  # tokens of an unfinished point
    pending: str = ""  # unfinished token at the end of the coords text so far
    points: list[Point] = field(default_factory=list)
    written: list[tuple[int | float, int, int, int]] = field(default_factory=list)  # (key, id, x, y) as read
    ids: set[tuple[int | float, int]] = field(default_factory=set)
    spots: set[tuple[int | float, int, int]] = field(default_factory=set)


class _Scanner:
    def __init__(self, stream: bool):
        self._stream = stream
        self._buf = ""
        self._final = False
        self._state = self._text
        self._display: list[str] = []
        self._objects: list[GroundedObject] = []
        self._written: list[tuple] = []  # per object: what identifies it as written, hashed in C
        self._element: _Element | None = None
        self._elements_seen = 0
        self._warnings: dict[str, int] = {}
        self._video: bool | None = None  # decided by the answer's first valid group key
        self._points_left = MAX_POINTS
        self._coords_left = MAX_COORDS_CHARS
        self._coords_cut = False
        self._groups_left = MAX_GROUPS
        self._new: list[StreamedPoint] = []

    def feed(self, delta: str) -> list[StreamedPoint]:
        buf, pos = self._buf + delta, 0
        while True:
            state, before = self._state, pos
            pos = state(buf, pos)
            if pos == before and self._state == state:
                break
        self._buf = buf[pos:]
        new, self._new = self._new, []
        return new

    def finish(self) -> Grounding:
        self._final = True
        self.feed("")
        if self._element is not None:
            self._warn("the answer ends inside an element (cut off at the token limit?); its complete points are kept")
            if self._state == self._coords:
                self._end_coords(self._element, complete=False)
            self._end_element(truncated=True)
        text = "".join(self._display)
        if stray := sum(text.count(closer) for closer in _STRAY_CLOSERS):
            for closer in _STRAY_CLOSERS:
                text = text.replace(closer, "")
            self._warn("removed closing tags without an element", stray)
        objects = self._deduplicated()
        stated = _stated_count(text)
        derived = sum(o.count for o in objects)
        if stated is not None and objects and stated != derived:
            self._warn(f"the answer states {stated} but its points mark {derived}")
        return Grounding(tuple(objects), stated, tuple(_messages(self._warnings)), text)

    def _warn(self, message: str, times: int = 1) -> None:
        _note(self._warnings, message, times)

    # States: each takes (buf, pos) and returns the position up to which it consumed buf.

    def _text(self, buf: str, pos: int) -> int:
        m = _START.search(buf, pos)
        if m is None:
            lt = -1 if self._final else buf.find("<", max(pos, len(buf) - 7))  # may be a "<points" cut in two
            end = len(buf) if lt == -1 else lt
            self._display.append(buf[pos:end])
            return end
        self._display.append(buf[pos : m.start()])
        if self._elements_seen == MAX_ELEMENTS:
            self._warn(f"more than {MAX_ELEMENTS} elements; the rest of the answer is shown as plain text")
            self._state = self._rest
            return m.start()
        self._elements_seen += 1
        self._element = _Element(kind=m.group(1))
        self._state = self._tag
        return m.end()

    def _rest(self, buf: str, pos: int) -> int:
        self._display.append(buf[pos:])
        return len(buf)

    def _tag(self, buf: str, pos: int) -> int:
        el = self._element
        m = _SPACE.match(buf, pos)
        if m:
            return m.end()
        if pos == len(buf):
            return pos
        c = buf[pos]
        if c == ">":
            self._state = self._label
            return pos + 1
        if c == "<":
            self._warn("an element was not closed")
            self._end_element()
            return pos
        if c == "/" and buf.startswith(">", pos + 1):
            self._end_element()  # self-closing, as the official regex allows
            return pos + 2
        if el.attributes < MAX_ATTRIBUTES and (m := _ATTRIBUTE.match(buf, pos)):
            return self._start_value(el, *m.groups(), m.end())
        if not self._final and len(buf) - pos < _ATTRIBUTE_SPAN and not _TAG_END.search(buf, pos):
            return pos  # may be an attribute cut in two
        self._warn("skipped a malformed tag")
        self._state = self._skip
        return pos

    def _start_value(self, el: _Element, name: str, quote: str, end: int) -> int:
        el.attributes += 1
        el.quote, el.attribute = quote, name
        self._state = self._value
        if name == "coords" and not el.coords_seen:
            el.coords_seen = True
            self._state = self._coords
        elif name == "alt" and el.alt is None:
            el.alt = ""
        else:
            el.attribute = ""  # its value is read and ignored
            self._warn("ignored unknown or repeated attributes")
        return end

    def _value(self, buf: str, pos: int) -> int:
        el = self._element
        m = _VALUE_END[el.quote].search(buf, pos)
        end = m.start() if m else len(buf)
        if el.attribute == "alt":
            el.alt = self._bounded(el.alt, buf, pos, end, "alt texts")
        return self._after_value(buf, m, end)

    def _coords(self, buf: str, pos: int) -> int:
        el = self._element
        m = _VALUE_END[el.quote].search(buf, pos)
        end = m.start() if m else len(buf)
        self._read_coords(el, buf[pos:end])
        if m:
            self._end_coords(el, complete=True)
        return self._after_value(buf, m, end)

    def _after_value(self, buf: str, m: re.Match | None, end: int) -> int:
        if m is None:
            return end
        self._state = self._tag
        if buf[end] == self._element.quote:
            return end + 1
        self._warn("an attribute value has no closing quote")
        return end

    def _skip(self, buf: str, pos: int) -> int:
        m = _TAG_END.search(buf, pos)
        if m is None:
            return len(buf)
        if m.group() == ">":
            self._state = self._label
            return m.end()
        self._warn("an element was not closed")
        self._end_element()
        return m.start()

    def _label(self, buf: str, pos: int) -> int:
        el = self._element
        lt = buf.find("<", pos)
        end = len(buf) if lt == -1 else lt
        el.label = self._bounded(el.label, buf, pos, end, "labels")
        if lt == -1:
            return end
        closer = f"</{el.kind}>"
        if buf.startswith(closer, lt):
            self._end_element()
            return lt + len(closer)
        self._warn("an element was not closed")
        self._end_element()
        return lt

    def _bounded(self, kept: str, buf: str, pos: int, end: int, what: str) -> str:
        """`kept` + buf[pos:end], reading at most one character past MAX_TEXT (which marks it as shortened)."""
        if len(kept) > MAX_TEXT:
            return kept
        kept += buf[pos : min(end, pos + MAX_TEXT + 1 - len(kept))]
        if len(kept) > MAX_TEXT:
            self._warn(f"shortened {what} to {MAX_TEXT} characters")
        return kept

    # Elements and their coords.

    def _end_element(self, truncated: bool = False) -> None:
        el, self._element = self._element, None
        self._state = self._text
        label = el.label[:MAX_TEXT].strip()
        if not el.coords_seen:
            self._warn("an element has no coords")
        if not label and not truncated:
            self._warn("an element has no label")
        alt = None if el.alt is None else el.alt[:MAX_TEXT]
        self._objects.append(GroundedObject(el.kind, label, alt, tuple(el.points)))
        self._written.append((el.kind, label, alt, tuple(el.written)))
        self._display.append(label)

    def _read_coords(self, el: _Element, text: str) -> None:
        if not text or self._coords_cut:
            return
        over_budget = len(text) > self._coords_left
        text = text[: self._coords_left]
        self._coords_left -= len(text)
        data = (el.pending + text).translate(_COORDS_TABLE)
        last = max(data.rfind(" "), data.rfind(";"))  # tokens before it are complete
        el.pending = data[last + 1 :][: MAX_TOKEN + 1]  # an overlong token stays overlong, hence invalid
        first, *rest = data[: last + 1].split(";")
        self._read_group(el, first.split())
        if rest:
            self._end_group(el)
            for tokens in filter(None, map(str.split, rest[:-1])):  # empty groups change nothing
                self._read_group(el, tokens)
                self._end_group(el)
            self._read_group(el, rest[-1].split())
        if over_budget and not self._coords_cut:
            self._cut_coords(el, f"coords beyond {MAX_COORDS_CHARS} characters in all were ignored")

    def _cut_coords(self, el: _Element, message: str) -> None:
        """Stop reading coords for the rest of the answer; the point being read is incomplete."""
        self._coords_cut = True
        el.pending, el.carry = "", []
        self._warn(message)

    def _end_coords(self, el: _Element, complete: bool) -> None:
        """The coords value ended: with its closing quote (the last token is whole) or cut off (it is not)."""
        if complete and el.pending:
            self._read_group(el, [el.pending])
        el.pending = ""
        self._end_group(el)

    def _end_group(self, el: _Element) -> None:
        if el.carry:
            self._warn("dropped incomplete points")
        el.key, el.skip_group, el.carry = None, False, []

    def _read_group(self, el: _Element, tokens: list[str]) -> None:
        if not tokens or el.skip_group or self._coords_cut:
            return
        if el.key is None:
            if self._groups_left == 0:
                return self._cut_coords(el, f"coords beyond {MAX_GROUPS} groups in all were ignored")
            self._groups_left -= 1
            key = _parse_key(tokens[0])
            tokens = tokens[1:]
            video = isinstance(key, float)
            if key is None:
                self._warn("dropped groups whose image index or time is not a number")
            elif self._video is not None and video != self._video:
                self._warn("dropped groups whose key is not of the answer's kind (image index or time)")
                key = None
            if key is None:
                el.skip_group = True
                return
            self._video, el.key = video, key
        tokens = el.carry + tokens
        whole = len(tokens) - len(tokens) % 3
        for i in range(0, whole, 3):
            self._add_point(el, tokens[i], tokens[i + 1], tokens[i + 2])
        el.carry = tokens[whole:]

    def _add_point(self, el: _Element, id_text: str, x_text: str, y_text: str) -> None:
        key = el.key
        # isascii: int() also reads other scripts' digits, which are not Molmo2 output
        digits = id_text + x_text + y_text
        if not (digits.isdigit() and digits.isascii() and max(len(id_text), len(x_text), len(y_text)) <= MAX_TOKEN):
            self._warn("dropped points that are not an id and two whole numbers")
            return
        pid, x, y = int(id_text), int(x_text), int(y_text)
        if pid == 0:
            self._warn("dropped points that are not an id and two whole numbers")
        elif x > 1000 or y > 1000:
            self._warn("dropped points outside the 0-1000 range")
        elif (key, pid) in el.ids:
            self._warn("dropped points repeating an id")
        elif el.kind == "points" and (key, x, y) in el.spots:
            self._warn("dropped points repeating a position")
        elif self._points_left == 0:
            self._warn(f"more than {MAX_POINTS} points; the rest were dropped")
        else:
            self._points_left -= 1
            el.ids.add((key, pid))
            el.spots.add((key, x, y))
            el.written.append((key, pid, x, y))
            point = Point(key, pid, x / 1000, y / 1000)
            el.points.append(point)
            if self._stream:
                self._new.append(StreamedPoint(len(self._objects), el.kind, point))

    def _deduplicated(self) -> list[GroundedObject]:
        """Degenerate repetition: an element written exactly like an earlier one, a track id following an earlier
        id's exact path."""
        objects: list[GroundedObject] = []
        seen: set[tuple] = set()
        for obj, written in zip(self._objects, self._written):
            if written in seen:
                self._warn("dropped repeated elements")
                continue
            seen.add(written)
            objects.append(self._without_repeated_tracks(obj, written[3]) if obj.kind == "tracks" else obj)
        return objects

    def _without_repeated_tracks(self, obj: GroundedObject, written: tuple) -> GroundedObject:
        by_id = operator.itemgetter(1)
        seen: set[tuple] = set()
        repeated: set[int] = set()
        for pid, points in itertools.groupby(sorted(written, key=by_id), by_id):  # stable: each id's path in order
            path = tuple(map(operator.itemgetter(0, 2, 3), points))
            if path in seen:
                repeated.add(pid)
            seen.add(path)
        if not repeated:
            return obj
        self._warn("dropped tracks repeating another track's path", len(repeated))
        return GroundedObject(obj.kind, obj.label, obj.alt, tuple(p for p in obj.points if p.id not in repeated))


def _parse_key(token: str) -> int | float | None:
    """Image index (integer from 1) or time in seconds (always written with a decimal, §11.1)."""
    if not token.isascii() or len(token) > MAX_TOKEN:
        return None
    if token.isdigit():
        return int(token) or None
    whole, dot, fraction = token.partition(".")
    return float(token) if dot and whole.isdigit() and fraction.isdigit() else None


def _stated_count(text: str) -> int | None:
    """The count the answer's words state (§11.1 wrappers, or a bare number); the sum when it states several."""
    bare = text.strip().removesuffix(".")
    if bare.isascii() and bare.isdigit() and len(bare) <= 6:
        return int(bare)
    lowered = text.lower()
    numbers = [int(m[1] or 0) for m in _COUNT.finditer(lowered) if not lowered[m.start() - 1 : m.start()].isalnum()]
    return sum(numbers) if numbers else None


def _note(counts: dict[str, int], message: str, times: int = 1) -> None:
    counts[message] = counts.get(message, 0) + times


def _messages(counts: dict[str, int]) -> list[str]:
    return [message if n == 1 else f"{message} ({n} times)" for message, n in counts.items()]
