"""Molmo2 preprocessing: a conversation with images or a video -> token ids, visual mask, crop pixels, pooling.

Reproduces transformers 5.23 `Molmo2Processor` (../shared/docs/molmo2-inference.md §3-§5, §10) token for token
and pixel for pixel, but builds the token ids directly instead of tokenizing a string of thousands of markup
tokens, and resizes once per image.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import numpy as np
import torch
import torch.nn.functional as F
from jinja2.sandbox import ImmutableSandboxedEnvironment
from PIL import Image
from tokenizers import Tokenizer

from inference.request import Request

# The tokens that form the one bidirectional visual block of §8.3.
THUMBNAIL_HEIGHT = 80  # pixels of each film-strip frame (frame_thumbnails)
VISUAL_MARKUP = (
    "<im_patch>", "<im_col>", "<im_start>", "<low_res_im_start>",
    "<frame_start>", "<im_end>", "<frame_end>", "<im_low>",
)  # fmt: skip
IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER = "<|image|>", "<|video|>"


@dataclass(frozen=True)
class PixelNorm:
    """uint8 -> float32 pixel values: optional rescale (x·factor) and normalisation ((x - mean) / std)."""

    rescale: float | None = 1 / 255
    mean: tuple[float, ...] | None = (0.5, 0.5, 0.5)
    std: tuple[float, ...] | None = (0.5, 0.5, 0.5)

    @classmethod
    def from_config(cls, config: dict, default: bool) -> PixelNorm:
        rescale = config.get("rescale_factor", 1 / 255) if config.get("do_rescale", default) else None
        normalize = config.get("do_normalize", default)
        mean = tuple(config.get("image_mean", (0.5, 0.5, 0.5))) if normalize else None
        std = tuple(config.get("image_std", (0.5, 0.5, 0.5))) if normalize else None
        return cls(rescale, mean, std)

    def __call__(self, patches: torch.Tensor) -> torch.Tensor:
        """[..., P·P·3] uint8 patches (channel last) -> float32, with the reference's arithmetic (§3.1)."""
        x = patches.to(torch.float32)
        if self.mean is None:
            return x.mul_(self.rescale) if self.rescale is not None else x
        mean, std = torch.tensor(self.mean), torch.tensor(self.std)
        if self.rescale is not None:  # transformers fuses the two: (x - mean/factor) / (std/factor)
            mean, std = mean * (1.0 / self.rescale), std * (1.0 / self.rescale)
        repeat = patches.shape[-1] // mean.numel()
        return x.sub_(mean.repeat(repeat)).div_(std.repeat(repeat))


@dataclass(frozen=True)
class ProcessorSettings:
    """Values of preprocessor_config.json, video_preprocessor_config.json and processor_config.json."""

    crop_size: int = 378
    patch_size: int = 14
    overlap_margins: tuple[int, int] = (4, 4)
    image_pooling: tuple[int, int] = (2, 2)
    video_pooling: tuple[int, int] = (3, 3)
    image_norm: PixelNorm = PixelNorm()
    # transformers' video processor class has no rescale/normalise defaults, so only the file turns them on.
    video_norm: PixelNorm = PixelNorm(rescale=None, mean=None, std=None)
    max_crops: int = 8
    # processor_config.json; defaults are transformers' class defaults, used when the file is absent.
    image_use_col_tokens: bool = True
    use_single_crop_col_tokens: bool | None = None
    use_single_crop_start_token: bool = True
    video_use_col_tokens: bool = False
    use_frame_special_tokens: bool = True

    @classmethod
    def from_dir(cls, path: Path) -> ProcessorSettings:
        image = _json(path / "preprocessor_config.json")
        video = _json(path / "video_preprocessor_config.json")
        proc = _json(path / "processor_config.json")
        size = image.get("size", {}).get("height", 378)
        return cls(
            crop_size=int(size),
            patch_size=int(image.get("patch_size", 14)),
            overlap_margins=tuple(image.get("overlap_margins", (4, 4))),
            image_pooling=tuple(image.get("pooling_size", (2, 2))),
            video_pooling=tuple(video.get("pooling_size", (3, 3))),
            image_norm=PixelNorm.from_config(image, default=True),
            video_norm=PixelNorm.from_config(video, default=False),
            max_crops=int(image.get("max_crops", 8)),
            **{k: proc[k] for k in _PROCESSOR_FLAGS if k in proc},
        )


_PROCESSOR_FLAGS = (
    "image_use_col_tokens",
    "use_single_crop_col_tokens",
    "use_single_crop_start_token",
    "video_use_col_tokens",
    "use_frame_special_tokens",
)


@dataclass(frozen=True)
class Batch:
    """Model inputs for one request, plus what later stages need to map answers back onto the media."""

    input_ids: torch.Tensor  # [seq] int64
    visual_mask: torch.Tensor  # [seq] bool: the visual-markup tokens (§8.3)
    pixel_values: torch.Tensor | None  # [n_crops, 729, 588] float32 (crops of all images, or one per frame)
    pooling: torch.Tensor | None  # [n_patch_tokens, 4 or 9] int64 indices into the flattened patches, -1 = empty
    is_video: bool
    frame_times: tuple[float, ...] | None  # times written into the prompt (video)
    frame_indices: tuple[int, ...] | None  # original-video frame decoded for each time, when known
    media_sizes: tuple[tuple[int, int], ...]  # (width, height) of each original image, or of the video frames
    media_keys: tuple[str, ...]  # content hash of each image or video: equal ids + equal keys = reusable prefix
    clip_start: float | None  # video from a file: where the sampled range starts in the whole video (seconds)
    video_info: Any | None  # video from a file: its inference.video.VideoInfo
    prompt: str  # the rendered chat text, with placeholders
    notes: tuple[str, ...]  # what media loading changed (first frame of an animation, ...)
    timings: dict[str, float]  # seconds: media_decode, preprocess
    frame_thumbnails: np.ndarray | None = None  # video: [T, h, w, 3] uint8, see frame_thumbnails


@dataclass(frozen=True)
class _VideoFrames:
    """A video after decoding: each sampled frame's uint8 patches, and where the frames came from."""

    patches: torch.Tensor  # [T, 729, 588] uint8
    thumbnails: np.ndarray  # [T, h, w, 3] uint8, see frame_thumbnails
    times: tuple[float, ...]
    frame_indices: tuple[int, ...] | None
    size: tuple[int, int]  # (width, height) of the frames as displayed
    start: float | None
    info: Any | None


@dataclass(frozen=True)
class _Visual:
    """One image or video after pixel processing."""

    ids: np.ndarray  # [n] int64: the markup ids replacing the placeholder (video: interleaved with timestamps)
    pixels: torch.Tensor  # [n_crops, 729, 588] float32
    pooling: torch.Tensor  # [n_patch_tokens, pool_h * pool_w] int64, indices local to this item
    size: tuple[int, int]
    key: str


class Molmo2Processor:
    """Turns a `Request` into a `Batch` using a checkpoint's tokenizer, chat template and processor configs."""

    def __init__(self, tokenizer: Tokenizer, chat_template: str, settings: ProcessorSettings, bos_token: str):
        self.tokenizer = tokenizer
        self.settings = settings
        self.bos_token = bos_token
        self._template = _template_environment().from_string(chat_template)
        self.token_ids = {t: self._id(t) for t in (*VISUAL_MARKUP, IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER)}
        self.visual_ids = torch.tensor([self.token_ids[t] for t in VISUAL_MARKUP])
        self.special_tokens = [t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special]

    @classmethod
    def from_dir(cls, path: str | Path) -> Molmo2Processor:
        path = Path(path)
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        config = _json(path / "tokenizer_config.json")
        bos = config.get("bos_token") or config.get("eos_token")
        bos = bos["content"] if isinstance(bos, dict) else bos
        template = (path / "chat_template.jinja").read_text(encoding="utf-8")
        return cls(tokenizer, template, ProcessorSettings.from_dir(path), bos)

    def __call__(self, request: Request) -> Batch:
        start = time.perf_counter()
        messages, images, video, notes = self._collect_media(request)
        loaded = time.perf_counter()
        prompt = self.render(messages)
        if not prompt.startswith(self.bos_token):
            prompt = self.bos_token + prompt  # §10.1 step 6: BOS is prepended as text
        visuals = [self._image(img, request.max_crops) for img in images]
        if video is not None:
            visuals.append(self._video(video))
        ids = self._token_ids(prompt, visuals, is_video=video is not None)
        ids_t = torch.from_numpy(ids)
        pixels, pooling = _concat_visuals(visuals)
        return Batch(
            input_ids=ids_t,
            visual_mask=torch.isin(ids_t, self.visual_ids),
            pixel_values=pixels,
            pooling=pooling,
            is_video=video is not None,
            frame_times=tuple(video.times) if video is not None else None,
            frame_indices=tuple(video.frame_indices) if video is not None and video.frame_indices else None,
            clip_start=video.start if video is not None else None,
            video_info=video.info if video is not None else None,
            media_sizes=tuple(v.size for v in visuals),
            media_keys=tuple(v.key for v in visuals),
            prompt=prompt,
            notes=tuple(notes),
            timings={"media_decode": loaded - start, "preprocess": time.perf_counter() - loaded},
            frame_thumbnails=video.thumbnails if video is not None else None,
        )

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        """The checkpoint's chat template, rendered as transformers renders it (§10.1)."""
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    # -- media -----------------------------------------------------------------------------------------------

    def _collect_media(self, request: Request):
        """Load every image and the video of the conversation; strip control tokens from user text."""
        from inference.media import load_image

        images, videos, notes, messages = [], [], [], []
        for message in request.messages:
            content = message["content"]
            if isinstance(content, str):
                messages.append({**message, "content": self._clean(content)})
                continue
            parts = []
            for part in content:
                kind = part.get("type")
                if kind == "image" or "image" in part:
                    loaded = load_image(part["image"])
                    images.append(_pixels(loaded.image))
                    notes.extend(loaded.notes)
                elif kind == "video" or "video" in part:
                    videos.append(self._load_video(part, request))
                elif kind == "text":
                    part = {**part, "text": self._clean(part["text"])}
                parts.append(part)
            messages.append({**message, "content": parts})
        if len(videos) > 1:
            raise ValueError("At most one video per conversation.")  # §5.3
        if videos and images:
            raise ValueError("A conversation cannot mix images and a video.")  # §5.3
        return messages, images, (videos[0] if videos else None), notes

    def _load_video(self, part: dict[str, Any], request: Request) -> _VideoFrames:
        """The frames of a video content part, each turned into its uint8 patches as soon as it is decoded."""
        video = part["video"]
        if "timestamps" in part:  # decoded frames given by the caller
            frames = [np.asarray(f.convert("RGB")) if isinstance(f, Image.Image) else f for f in video]
            if len(part["timestamps"]) != len(frames):
                raise ValueError("A video given as frames needs one timestamp per frame.")
            height, width = frames[0].shape[:2]
            patches, thumbnails = self._frames(frames, (width, height))
            times = tuple(float(t) for t in part["timestamps"])
            return _VideoFrames(patches, thumbnails, times, part.get("frame_indices"), (width, height), None, None)
        from inference.video import VideoClip, open_clip

        if isinstance(video, VideoClip):
            size = (video.info.width, video.info.height)
            patches, thumbnails = self._frames(video.frames, size)
            return _VideoFrames(patches, thumbnails, video.times, video.frame_indices, size, video.start, video.info)
        start, end = request.clip or (None, None)
        with open_clip(video, max_frames=request.max_frames, max_fps=request.max_fps, start=start, end=end) as (
            plan,
            frames,
        ):
            side = self.settings.crop_size // self.settings.patch_size
            patches = torch.empty((len(plan.times), side * side, self.settings.patch_size**2 * 3), dtype=torch.uint8)
            size = (plan.info.width, plan.info.height)
            thumbnails = np.zeros((len(plan.times), *thumbnail_shape(size)), np.uint8)
            for index, image in frames:  # the child decodes the next frame meanwhile
                slots = [slot for slot, wanted in enumerate(plan.frame_indices) if wanted == index]
                square = self._frame_square(image)[None]
                patches[slots] = self._patches(square)
                thumbnails[slots] = frame_thumbnails(square, size)
        return _VideoFrames(patches, thumbnails, plan.times, plan.frame_indices, size, plan.start, plan.info)

    def _frames(self, frames, size: tuple[int, int]) -> tuple[torch.Tensor, np.ndarray]:
        """Decoded frames -> their patches [T, 729, 588] and thumbnails, one frame at a time (bounded memory)."""
        squares = [self._frame_square(f)[None] for f in frames]
        thumbnails = np.concatenate([frame_thumbnails(square, size) for square in squares])
        return self._patches(torch.cat(squares)), thumbnails

    def _frame_square(self, frame: np.ndarray) -> torch.Tensor:
        """One video frame [H, W, 3] uint8 -> its [3, 378, 378] uint8 resize, what the model sees of it (§5.2)."""
        s = self.settings
        source = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None]
        return resize_uint8(source, s.crop_size, s.crop_size)[0]

    def _patches(self, squares: torch.Tensor) -> torch.Tensor:
        return patchify(squares, self.settings.patch_size)

    def _clean(self, text: str) -> str:
        """User text never carries control tokens: a typed '<im_patch>' must stay text, not become a slot."""
        for token in self.special_tokens:
            if token in text:
                text = text.replace(token, "")
        return text

    # -- pixels ----------------------------------------------------------------------------------------------

    def _image(self, image: np.ndarray, max_crops: int) -> _Visual:
        s = self.settings
        height, width = image.shape[:2]
        rows, cols, canvas_h, canvas_w = crop_geometry(height, width, max_crops, s)
        # [3, H, W] float, converted once for both resizes (the image's own memory layout, as the reference has it)
        with warnings.catch_warnings():  # a read-only array: torch warns about writes, and none happen
            warnings.simplefilter("ignore", UserWarning)
            source = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()
        crops = [resize_uint8(source, s.crop_size, s.crop_size)]  # crop 0: the whole image, low-res (§3.3)
        canvas = resize_uint8(source, canvas_h, canvas_w)  # [3, canvas_h, canvas_w]
        del source
        window = s.crop_size - (s.overlap_margins[0] + s.overlap_margins[1]) * s.patch_size
        tiles = canvas.unfold(1, s.crop_size, window).unfold(2, s.crop_size, window)  # [3, r, c, S, S]
        crops.append(tiles.permute(1, 2, 0, 3, 4).reshape(rows * cols, 3, s.crop_size, s.crop_size))
        patches = patchify(torch.cat([crops[0][None], crops[1]]), s.patch_size)  # [1 + r·c, 729, 588] uint8
        pooling, grid = image_pooling(rows, cols, s)
        return _Visual(
            ids=self._image_ids(grid),
            pixels=s.image_norm(patches),
            pooling=pooling,
            size=(width, height),
            key=_content_key(patches.numpy(), [max_crops]),
        )

    def _video(self, video: _VideoFrames) -> _Visual:
        s = self.settings
        pooling, grid = video_pooling(len(video.times), s)
        return _Visual(
            ids=self._video_ids(list(video.times), grid),
            pixels=s.video_norm(video.patches),
            pooling=pooling,
            size=video.size,
            key=_content_key(video.patches.numpy(), list(video.times)),  # equal patches give equal model inputs
        )

    # -- token ids -------------------------------------------------------------------------------------------

    def _image_ids(self, grid: tuple[int, int, int, int]) -> np.ndarray:
        """§3.5: low-res block then high-res block, `<im_col>` closing each high-res row."""
        t, s = self.token_ids, self.settings
        low_h, low_w, high_h, high_w = grid
        low_cols = s.image_use_col_tokens if s.use_single_crop_col_tokens is None else s.use_single_crop_col_tokens
        start = t["<low_res_im_start>"] if s.use_single_crop_start_token else t["<im_start>"]
        low = _block(start, t["<im_patch>"], low_h, low_w, t["<im_col>"] if low_cols else None, t["<im_end>"])
        col = t["<im_col>"] if s.image_use_col_tokens else None
        high = _block(t["<im_start>"], t["<im_patch>"], high_h, high_w, col, t["<im_end>"])
        return np.concatenate([low, high])

    def _video_ids(self, times: list[float], grid: tuple[int, int]) -> np.ndarray:
        """§5.3: `"{t:.1f} "` (space-separated) before each frame's markup block."""
        t, s = self.token_ids, self.settings
        start = t["<frame_start>"] if s.use_frame_special_tokens else t["<im_start>"]
        end = t["<frame_end>"] if s.use_frame_special_tokens else t["<im_end>"]
        col = t["<im_col>"] if s.video_use_col_tokens else None
        block = _block(start, t["<im_patch>"], *grid, col, end)
        texts = [("" if k == 0 else " ") + f"{time:.1f} " for k, time in enumerate(times)]
        encoded = {text: enc.ids for text, enc in zip(set(texts), self.tokenizer.encode_batch(list(set(texts))))}
        return np.concatenate([np.concatenate([np.asarray(encoded[text], np.int64), block]) for text in texts])

    def _token_ids(self, prompt: str, visuals: list[_Visual], is_video: bool) -> np.ndarray:
        """Tokenize the text between placeholders and splice each visual item's ids in their place."""
        placeholder = VIDEO_PLACEHOLDER if is_video else IMAGE_PLACEHOLDER
        pieces = prompt.split(placeholder)
        if len(pieces) - 1 != len(visuals):
            raise ValueError(f"The prompt has {len(pieces) - 1} {placeholder} slots for {len(visuals)} items.")
        out = []
        for piece, visual in itertools.zip_longest(pieces, visuals):
            if piece:
                out.append(np.asarray(self.encode_text(piece), np.int64))
            if visual is not None:
                out.append(visual.ids)
        return np.concatenate(out)

    def _id(self, token: str) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"The tokenizer has no {token} token; is this a Molmo2 checkpoint?")
        return token_id


def load_processor(name: str | Path) -> Molmo2Processor:
    """Processor of a hub repo id, a local checkpoint directory or `tiny-random`."""
    from inference.checkpoint import resolve

    path = Path(name) if Path(name).is_dir() else resolve(str(name)).path
    return Molmo2Processor.from_dir(path)


# -- geometry (pure functions of shapes, cached) ---------------------------------------------------------------


def select_tiling(height: int, width: int, unit: int, max_crops: int) -> tuple[int, int]:
    """§3.2: the (rows, cols) tiling that fits with the least upscaling, else the least downscaling."""
    tilings = sorted(
        ((r, c) for r in range(1, max_crops + 1) for c in range(1, max_crops + 1) if r * c <= max_crops),
        key=lambda rc: (rc[0] * rc[1], rc[0]),
    )
    candidates = torch.tensor(tilings, dtype=torch.int32) * unit
    scales = (candidates.to(torch.float32) / torch.tensor([height, width], dtype=torch.float32)).amin(dim=-1)
    if torch.all(scales < 1):
        return tilings[int(scales.argmax())]
    return tilings[int(torch.where(scales < 1.0, 1e10, scales).argmin())]


def crop_geometry(height: int, width: int, max_crops: int, s: ProcessorSettings) -> tuple[int, int, int, int]:
    """(rows, cols, canvas_height, canvas_width) of the high-res tiling (§3.2)."""
    margin = (s.overlap_margins[0] + s.overlap_margins[1]) * s.patch_size
    window = s.crop_size - margin
    rows, cols = select_tiling(height - margin, width - margin, window, max_crops)
    return rows, cols, rows * window + margin, cols * window + margin


@lru_cache(maxsize=64)
def image_pooling(rows: int, cols: int, s: ProcessorSettings) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pooling windows of one image (§3.4): [196 low-res + R_hi·C_hi high-res, 4] and the image grid."""
    per_side = s.crop_size // s.patch_size
    left, right = s.overlap_margins
    grid = torch.arange(rows * cols * per_side * per_side).reshape(rows, cols, per_side, per_side)
    # Drop the overlap margins shared with a neighbouring crop, so each canvas patch comes from one crop.
    if left:
        grid[1:, :, :left, :] = -1
        grid[:, 1:, :, :left] = -1
    if right:
        grid[:-1, :, -right:, :] = -1
        grid[:, :-1, :, -right:] = -1
    grid = grid.permute(0, 2, 1, 3).reshape(-1)
    grid = grid[grid >= 0].reshape(rows * (per_side - left - right) + left + right, -1)
    high, high_h, high_w = _pool_windows(grid, *s.image_pooling)
    low, low_h, low_w = _pool_windows(torch.arange(per_side * per_side).reshape(per_side, per_side), *s.image_pooling)
    high = torch.where(high >= 0, high + per_side * per_side, -1)  # high-res crops follow the global crop
    return torch.cat([low, high]), (low_h, low_w, high_h, high_w)


def video_pooling(num_frames: int, s: ProcessorSettings) -> tuple[torch.Tensor, tuple[int, int]]:
    """§5.2: 3×3 windows on each frame's 27×27 grid, frame k offset by 729·k -> [81·T, 9], and the 9×9 grid."""
    per_side = s.crop_size // s.patch_size
    frame, rows, cols = _pool_windows(torch.arange(per_side * per_side).reshape(per_side, per_side), *s.video_pooling)
    offsets = (torch.arange(num_frames) * per_side * per_side).view(-1, 1, 1)
    return torch.where(frame >= 0, frame + offsets, -1).reshape(-1, frame.shape[-1]), (rows, cols)


def _pool_windows(grid: torch.Tensor, pool_h: int, pool_w: int) -> tuple[torch.Tensor, int, int]:
    """Cut an index grid into pool_h×pool_w windows, padding with -1 (extra row/column at the end) (§3.4)."""
    pad_h = -grid.shape[0] % pool_h
    pad_w = -grid.shape[1] % pool_w
    grid = F.pad(grid, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2), value=-1)
    rows, cols = grid.shape[0] // pool_h, grid.shape[1] // pool_w
    windows = grid.reshape(rows, pool_h, cols, pool_w).permute(0, 2, 1, 3).reshape(rows * cols, pool_h * pool_w)
    return windows, rows, cols


def resize_uint8(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """§3.1: bilinear without antialiasing on float, rounded and clamped back to uint8 ([..., 3, H, W] uint8 or
    float holding 0-255 values) -> uint8."""
    batched = image if image.dim() == 4 else image[None]
    if batched.shape[-2:] == (height, width):
        return image.to(torch.uint8)
    out = F.interpolate(batched.float(), size=(height, width), mode="bilinear", align_corners=False, antialias=False)
    out = out.round_().clamp_(0, 255).to(torch.uint8)
    return out if image.dim() == 4 else out[0]


def patchify(crops: torch.Tensor, patch: int) -> torch.Tensor:
    """[N, 3, S, S] -> [N, (S/patch)², patch·patch·3], row-major patches, (row, col, channel) inside (§3.3)."""
    n, c, size, _ = crops.shape
    side = size // patch
    x = crops.reshape(n, c, side, patch, side, patch).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, side * side, patch * patch * c)


def thumbnail_shape(size: tuple[int, int], height: int = THUMBNAIL_HEIGHT) -> tuple[int, int, int]:
    """[h, w, 3] of a thumbnail of a (width, height) video: `height` pixels high, the video's aspect ratio."""
    return height, max(1, round(height * size[0] / max(size[1], 1))), 3


def frame_thumbnails(squares: torch.Tensor, size: tuple[int, int], height: int = THUMBNAIL_HEIGHT) -> np.ndarray:
    """What the model saw of video frames (their square resize, [N, 3, S, S] uint8, §5.2), put back to the video's
    aspect ratio `size` (width, height) at `height` pixels: [N, height, width, 3] uint8, for the player's film
    strip. Made while the frames stream in, so nothing is decoded twice."""
    small = F.interpolate(squares.float(), size=thumbnail_shape(size, height)[:2], mode="area")
    return small.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _block(start: int, patch: int, rows: int, cols: int, col: int | None, end: int) -> np.ndarray:
    row = np.full(cols + (col is not None), patch, np.int64)
    if col is not None:
        row[-1] = col
    return np.concatenate([[start], np.tile(row, rows), [end]]).astype(np.int64)


def _concat_visuals(visuals: list[_Visual]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """All crops in order; pooling indices shifted by the patches of the items before (§3.4)."""
    if not visuals:
        return None, None
    pooled, offset = [], 0
    for v in visuals:
        pooled.append(torch.where(v.pooling >= 0, v.pooling + offset, -1))
        offset += v.pixels.shape[0] * v.pixels.shape[1]
    return torch.cat([v.pixels for v in visuals]), torch.cat(pooled)


def _pixels(image: Image.Image) -> np.ndarray:
    """[H, W, 3] uint8 of an RGB image with a single copy (read-only: nothing here writes to it)."""
    return np.frombuffer(image.tobytes(), np.uint8).reshape(image.height, image.width, 3)


def _content_key(array: np.ndarray, extra: list[float] | None = None) -> str:
    digest = hashlib.blake2b(memoryview(np.ascontiguousarray(array)).cast("B"), digest_size=16)
    digest.update(repr(array.shape).encode())
    if extra is not None:
        digest.update(repr([round(t, 4) for t in extra]).encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _template_environment() -> ImmutableSandboxedEnvironment:
    """The sandboxed Jinja settings transformers renders chat templates with."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message: str):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    return env


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
