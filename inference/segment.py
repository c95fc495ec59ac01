"""SAM 2.1 masks that follow Molmo2's ids: each track is prompted at its keyframes and propagated backward and
forward inside its life (README "SAM 2 masks"), counting points get a mask on their own frame, images on theirs.

sam2 1.1.0 (pinned) provides the model and its per-frame tracking step; this module owns the plan (which frames,
which prompts), the frames in memory, the propagation order and the memory bounds. Only sam2's video predictor is
used, also for images: its image predictor imports torchvision, which the app cannot import.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from inference.grounding import Grounding, MediaLayout
from inference.masks import FrameMask, Masks, ObjectMasks, encode
from inference.track_plan import Frames, Keyframe, ObjectPlan, TrackLimits, image_plans, plan_video

# size -> (hub repo, config inside the sam2 package, checkpoint file in the repo)
MODELS = {
    "tiny": ("facebook/sam2.1-hiera-tiny", "configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "small": ("facebook/sam2.1-hiera-small", "configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "base+": ("facebook/sam2.1-hiera-base-plus", "configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "large": ("facebook/sam2.1-hiera-large", "configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}
DEFAULT_MODEL = MODELS["small"][0]
_TRUNKS = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base+", (144, 48): "large"}  # (embed dim, blocks)
# SAM 2 attends to this many keyframes of an object, the nearest in time (sam2's own option; all by default), so a
# track clicked on hundreds of frames costs no more per frame than one with a few.
KEYFRAMES_ATTENDED = 8
_MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics, as sam2's own frame loaders normalise
_STD = (0.229, 0.224, 0.225)
Progress = Callable[[int, int], None]  # progress(done, total)
Cancel = Callable[[], bool] | threading.Event


class SegmentError(Exception):
    """A SAM 2 request that cannot be served; the message is written for the user."""


class Cancelled(SegmentError):
    """The request was cancelled; no masks are returned."""


class Sam2Tracker:
    """A SAM 2.1 video predictor run by the plan above. One request at a time (the app's GPU queue ensures it)."""

    def __init__(self, predictor: Any, model: str, *, random_weights: bool, offload_state: bool, limits: TrackLimits):
        self.predictor = predictor  # sam2.sam2_video_predictor.SAM2VideoPredictor, eval mode
        self.model = model  # e.g. "sam2.1-hiera-small"
        self.random_weights = random_weights
        self.offload_state = offload_state  # keep SAM 2's per-frame memories on the CPU (saves GPU memory)
        self.limits = limits

    @classmethod
    def load(
        cls,
        name: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        image_size: int | None = None,
        random_weights: bool = False,
        seed: int = 0,
        offload_state: bool = False,
        limits: TrackLimits = TrackLimits(),
        cache_dir: str | Path | None = None,
    ) -> Sam2Tracker:
        """`name`: a size (tiny, small, base+, large), a facebook/sam2.1-hiera-* repo id (downloaded through
        huggingface_hub, which honours its cache and HF_HUB_OFFLINE) or a local .pt checkpoint. `random_weights`
        builds the size's architecture without a checkpoint (tests, benchmarks). `image_size` overrides the model's
        input side (1024): smaller is faster and coarser, and must be a multiple of 32."""
        if image_size is not None and (image_size < 64 or image_size % 32):
            raise ValueError(f"image_size must be a multiple of 32 and at least 64, not {image_size}")
        size, weights = _checkpoint(name, random_weights, cache_dir)
        predictor = _build(size, image_size, seed)
        if weights is not None:
            try:
                predictor.load_state_dict(weights)
            except RuntimeError as err:
                raise SegmentError(f"{name} is not a SAM 2.1 {size} checkpoint ({str(err)[:200]})") from err
        predictor.to(device)
        if predictor.device.type == "cpu":
            # sam2 stores memories in bfloat16 and relies on CUDA autocast to mix them with float32 features; on the
            # CPU, in float32, they are cast back where they are read.
            predictor.memory_attention.register_forward_pre_hook(_float_memory, with_kwargs=True)
        model = MODELS[size][0].split("/")[1]
        return cls(predictor, model, random_weights=random_weights, offload_state=offload_state, limits=limits)

    @property
    def image_size(self) -> int:
        return self.predictor.image_size

    @property
    def device(self) -> torch.device:
        return self.predictor.device

    def track(
        self,
        video: str | Path | Frames,
        grounding: Grounding,
        progress: Progress | None = None,
        *,
        layout: MediaLayout | None = None,
        start: float = 0.0,
        end: float | None = None,
        cancel: Cancel | None = None,
    ) -> Masks:
        """Masks for a video answer's tracks and points. `video`: a file (decoded with inference.video over
        [start, end] seconds; its MediaError for a bad file passes through) or Frames. `layout`: the Molmo2
        prompt's frames, so keys map to the frames it saw. progress(done, total) after each unit of work; `cancel`
        is checked between frames and raises Cancelled."""
        stopped = _stopped(cancel)
        if isinstance(video, Frames):
            self._check_size(*video.size)
            frames = video
        else:
            frames = self._decode(Path(video), start, end, stopped)
        stride = math.ceil(len(frames.indices) / self.limits.max_frames)
        notes = []
        if stride > 1:
            notes.append(
                f"{len(frames.indices)} frames are over the {self.limits.max_frames}-frame limit: SAM 2 tracked one "
                f"frame in {stride}, so masks exist on those frames only"
            )
            frames = frames.every(stride)
        plan = plan_video(grounding, frames, layout, self.limits)
        tick = _counter(progress, _work(plan.objects))
        found = self._run(frames, plan.objects, tick, stopped) if plan.objects else {}
        return Masks(
            width=frames.size[0],
            height=frames.size[1],
            frame_times=_frame_times(frames),
            model=self.model,
            objects=tuple(_object_masks(o, found.get(o.id, {}), frames.indices) for o in plan.objects),
            molmo2_count=grounding.count,
            stride=stride,
            random_weights=self.random_weights,
            warnings=(*notes, *plan.warnings),
        )

    def segment_images(
        self,
        images: Sequence[np.ndarray],
        grounding: Grounding,
        progress: Progress | None = None,
        *,
        cancel: Cancel | None = None,
    ) -> Masks:
        """Masks for an image answer's points: keys are 1-based image numbers, which key the masks' frames."""
        stopped = _stopped(cancel)
        for image in images:
            self._check_size(image.shape[1], image.shape[0])
        plans, notes = image_plans(images, grounding, self.limits)
        tick = _counter(progress, sum(_work(p) for p in plans.values()))
        objects = []
        for number, on_image in sorted(plans.items()):
            image = images[number - 1]
            frames = Frames((image,), (number,), (0.0,), (image.shape[1], image.shape[0]), fps=1.0)
            found = self._run(frames, on_image, tick, stopped)
            for p in on_image:
                masks = {number: found[p.id][0]} if 0 in found[p.id] else {}
                objects.append(ObjectMasks(p.id, p.label, p.kind, (number,), (), masks))
        sizes = tuple((image.shape[1], image.shape[0]) for image in images)
        return Masks(
            width=sizes[0][0] if sizes else 0,
            height=sizes[0][1] if sizes else 0,
            frame_times=(),
            model=self.model,
            objects=tuple(objects),
            molmo2_count=grounding.count,
            image_sizes=sizes,
            random_weights=self.random_weights,
            warnings=notes,
        )

    # --- running SAM 2 ---

    def _run(
        self, frames: Frames, plans: Sequence[ObjectPlan], tick: Callable[[], None], stopped: Callable[[], bool]
    ) -> dict[int, dict[int, FrameMask]]:
        """id -> position -> mask. The session is freed whatever happens; a CUDA out-of-memory error becomes a
        SegmentError once the failed step's tensors are gone, so the next request starts from a clean GPU."""
        state = self._session(frames)
        try:
            with torch.inference_mode(), self._autocast():
                found = self._prompt(state, frames, plans, tick, stopped)
                tracks = [p for p in plans if p.kind == "tracks"]
                if tracks:
                    self.predictor.propagate_in_video_preflight(state)
                    self._propagate(state, frames, tracks, found, tick, stopped)
            return found
        except torch.OutOfMemoryError:
            pass  # raised below, outside this handler, whose traceback still holds the step's tensors
        finally:
            state.clear()
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        raise SegmentError(
            f"SAM 2 ran out of GPU memory ({len(frames.indices)} frames, {len(plans)} objects at "
            f"{self.image_size} px); try a shorter range, fewer objects or a smaller SAM 2 model"
        )

    def _prompt(self, state: dict, frames: Frames, plans: Sequence[ObjectPlan], tick, stopped) -> dict:
        """Molmo2's points as positive clicks, frame by frame. A track's click becomes a conditioning frame of its
        memory; a counting point's mask is read at once and the point leaves nothing in the session."""
        found: dict[int, dict[int, FrameMask]] = {p.id: {} for p in plans}
        clicks: dict[int, list[tuple[ObjectPlan, Keyframe]]] = defaultdict(list)
        for plan in plans:
            for keyframe in plan.keyframes:
                clicks[keyframe.position].append((plan, keyframe))
        for position, items in sorted(clicks.items()):
            if stopped():
                raise Cancelled("SAM 2 stopped: the request was cancelled")
            single = []
            for plan, keyframe in items:
                if plan.kind == "tracks":
                    idx = self.predictor._obj_id_to_idx(state, plan.id)
                    out, _ = self._click(state, state["output_dict_per_obj"][idx], keyframe)
                    state["temp_output_dict_per_obj"][idx]["cond_frame_outputs"][position] = out
                else:
                    single.append((plan, self._click(state, {"cond_frame_outputs": {}}, keyframe)[1]))
            if single:
                self._store(found, [p for p, _ in single], position, torch.cat([m for _, m in single]), frames.size)
            tick()
        return found

    def _click(self, state: dict, outputs: dict, keyframe: Keyframe) -> tuple[dict, torch.Tensor]:
        """One positive click on a frame no memory is read for: what add_new_points_or_box does for a first click,
        without its preview of every object at full resolution (quadratic in the number of objects)."""
        width, height = state["video_width"], state["video_height"]
        scale = self.image_size
        coords = [[[keyframe.x / width * scale, keyframe.y / height * scale]]]  # [1, 1, 2] in model pixels
        points = {
            "point_coords": torch.tensor(coords, dtype=torch.float32, device=self.device),
            "point_labels": torch.ones(1, 1, dtype=torch.int32, device=self.device),  # 1: positive click
        }
        return self.predictor._run_single_frame_inference(
            inference_state=state,
            output_dict=outputs,
            frame_idx=keyframe.position,
            batch_size=1,
            is_init_cond_frame=True,
            point_inputs=points,
            mask_inputs=None,
            reverse=False,
            run_mem_encoder=False,  # the preflight encodes the memory of every conditioning frame
        )

    def _propagate(self, state: dict, frames: Frames, tracks: list[ObjectPlan], found: dict, tick, stopped) -> None:
        """Forward from each span's first keyframe to its end, then backward from it to its start: every object is
        computed once per frame of its life, and a frame's image features are shared by the objects on it."""
        reach = self._reach()
        keep = {p.id: _kept_for_backward(p, reach) for p in tracks}
        for position, reverse, active in _schedule(tracks):
            if stopped():
                raise Cancelled("SAM 2 stopped: the request was cancelled")
            logits = []
            for plan in active:
                outputs = state["output_dict_per_obj"][state["obj_id_to_idx"][plan.id]]
                logits.append(self._track_step(state, outputs, position, reverse))
                _forget(outputs["non_cond_frame_outputs"], position, reverse, reach, () if reverse else keep[plan.id])
            self._store(found, active, position, torch.cat(logits), frames.size)
            tick()

    def _track_step(self, state: dict, outputs: dict, position: int, reverse: bool) -> torch.Tensor:
        """Mask logits [1, 1, S/4, S/4] of one object: its click's on a keyframe, SAM 2's tracking step elsewhere."""
        if position in outputs["cond_frame_outputs"]:
            return outputs["cond_frame_outputs"][position]["pred_masks"].to(self.device)
        out, logits = self.predictor._run_single_frame_inference(
            inference_state=state,
            output_dict=outputs,
            frame_idx=position,
            batch_size=1,
            is_init_cond_frame=False,
            point_inputs=None,
            mask_inputs=None,
            reverse=reverse,
            run_mem_encoder=True,
        )
        outputs["non_cond_frame_outputs"][position] = out
        return logits

    def _reach(self) -> int:
        """Farthest frame distance SAM 2 reads memories from: mask memories and object pointers."""
        p = self.predictor
        return max(p.num_maskmem * p.memory_temporal_stride_for_eval, p.max_obj_ptrs_in_encoder)

    def _store(
        self, found: dict, plans: Sequence[ObjectPlan], position: int, logits: torch.Tensor, size: tuple[int, int]
    ) -> None:
        """Logits [n, 1, h, w] -> masks at the original size, as RLE; empty masks are not stored. One object at a
        time: n float masks at 4K would take n x 33 MB of GPU memory."""
        width, height = size
        full = [_upsampled(row[None], height, width)[0, 0] > 0 for row in logits]  # each [H, W] bool
        for plan, mask in zip(plans, encode(torch.stack(full).cpu().numpy())):
            if mask is not None:
                found[plan.id][position] = mask

    def _session(self, frames: Frames) -> dict[str, Any]:
        """SAM 2's inference state over frames in memory, laid out as sam2 1.1.0's init_state lays it out (which
        reads only MP4 files and JPEG folders). Frames stay uint8 on the CPU and go to the device one at a time."""
        width, height = frames.size
        return {
            "images": _ModelFrames(frames.images, self.image_size, self.device),
            "num_frames": len(frames.images),
            "offload_video_to_cpu": True,
            "offload_state_to_cpu": self.offload_state,
            "video_height": height,
            "video_width": width,
            "device": self.device,
            "storage_device": torch.device("cpu") if self.offload_state else self.device,
            "point_inputs_per_obj": {},
            "mask_inputs_per_obj": {},
            "cached_features": {},
            "constants": {},
            "obj_id_to_idx": OrderedDict(),
            "obj_idx_to_id": OrderedDict(),
            "obj_ids": [],
            "output_dict_per_obj": {},
            "temp_output_dict_per_obj": {},
            "frames_tracked_per_obj": {},
        }

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # --- inputs ---

    def _check_size(self, width: int, height: int) -> None:
        if max(width, height) > self.limits.max_side:
            raise SegmentError(f"too large for SAM 2: {width}x{height} (max {self.limits.max_side} px a side)")

    def _decode(self, path: Path, start: float, end: float | None, stopped: Callable[[], bool]) -> Frames:
        """Every k-th frame of [start, end] (k keeps it within max_frames), squared to the model size at once."""
        from inference.video import iter_frames, probe_video  # the project's one decoder

        info = probe_video(path)
        self._check_size(info.width, info.height)
        seconds = (info.duration if end is None else min(end, info.duration)) - start
        step = max(1, math.ceil(seconds * info.fps / self.limits.max_frames))
        # Decoded no smaller than the model's square on the short side: SAM 2 stretches every frame to it.
        side = max(info.width, info.height)
        side = min(side, math.ceil(self.image_size * side / min(info.width, info.height)))
        images, indices, times = [], [], []
        for frame in iter_frames(path, start=start, end=end, max_side=side, step=step):
            if stopped():
                raise Cancelled("SAM 2 stopped: the request was cancelled")
            images.append(_square(frame.image, self.image_size))
            indices.append(frame.index)
            times.append(frame.time)
        if not images:
            raise SegmentError(f"no video frames between {start:g} s and {end if end is not None else 'the end'}")
        return Frames(tuple(images), tuple(indices), tuple(times), (info.width, info.height), info.fps)


class _ModelFrames:
    """state["images"] for SAM 2: item i is frame i as the model reads it, [3, S, S] float32 normalised, made on
    the device when SAM 2 asks (once per frame and pass; SAM 2 caches the image features of the latest frame)."""

    def __init__(self, images: Sequence[np.ndarray], size: int, device: torch.device):
        self._images, self._size, self._device = images, size, device
        self._mean = torch.tensor(_MEAN, device=device)[:, None, None]
        self._std = torch.tensor(_STD, device=device)[:, None, None]

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = torch.from_numpy(np.array(self._images[i])).to(self._device)  # [h, w, 3] uint8
        x = _resized(image.permute(2, 0, 1)[None].float(), self._size)[0] / 255  # [3, S, S]
        return (x - self._mean) / self._std


def _resized(x: torch.Tensor, size: int) -> torch.Tensor:
    """[n, 3, h, w] float -> [n, 3, size, size]: SAM 2's input square (aspect ratio not kept, as sam2 does)."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _upsampled(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[1, 1, h, w] mask logits -> [1, 1, height, width], as sam2 brings masks to the video's size."""
    return F.interpolate(logits.float(), size=(height, width), mode="bilinear", align_corners=False)


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """[h, w, 3] uint8 -> [size, size, 3] uint8, the frame as SAM 2 will read it, kept at a quarter of float size."""
    x = _resized(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float(), size)
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _float_memory(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    kwargs["memory"] = kwargs["memory"].float()
    return args, kwargs


def _schedule(tracks: Sequence[ObjectPlan]) -> list[tuple[int, bool, list[ObjectPlan]]]:
    """(position, reverse, objects active there): the forward pass in frame order, then the backward pass."""
    forward: dict[int, list[ObjectPlan]] = defaultdict(list)
    backward: dict[int, list[ObjectPlan]] = defaultdict(list)
    for plan in tracks:
        for span in plan.spans:
            for position in range(span.key, span.end + 1):
                forward[position].append(plan)
            for position in range(span.start, span.key):
                backward[position].append(plan)
    return [(p, False, forward[p]) for p in sorted(forward)] + [
        (p, True, backward[p]) for p in sorted(backward, reverse=True)
    ]


def _work(plans: Sequence[ObjectPlan]) -> int:
    """Units of progress: frames with clicks, then tracking steps."""
    clicks = {k.position for p in plans for k in p.keyframes}
    return len(clicks) + len(_schedule([p for p in plans if p.kind == "tracks"]))


def _kept_for_backward(plan: ObjectPlan, reach: int) -> set[int]:
    """Forward-pass memories the backward pass reads: those just after each span's first keyframe."""
    return {p for s in plan.spans if s.start < s.key for p in range(s.key + 1, s.key + reach)}


def _forget(outputs: dict[int, Any], position: int, reverse: bool, reach: int, keep: Iterable[int]) -> None:
    """Drop memories the current pass can no longer read, so a session's memory stays bounded on long videos."""
    behind = [t for t in outputs if (t - position if reverse else position - t) >= reach and t not in keep]
    for t in behind:
        del outputs[t]


def _frame_times(frames: Frames) -> tuple[float, ...]:
    """Seconds of every original frame up to the last tracked one: exact on tracked frames, linear between them,
    at the average rate before the first."""
    index = np.arange(frames.indices[-1] + 1)
    times = np.interp(index, frames.indices, frames.times)
    before = index < frames.indices[0]
    times[before] = frames.times[0] - (frames.indices[0] - index[before]) / frames.fps
    return tuple(np.round(times, 6).tolist())


def _object_masks(plan: ObjectPlan, found: dict[int, FrameMask], indices: tuple[int, ...]) -> ObjectMasks:
    return ObjectMasks(
        id=plan.id,
        label=plan.label,
        kind=plan.kind,
        keyframes=tuple(indices[k.position] for k in plan.keyframes),
        spans=tuple((indices[s.start], indices[s.end]) for s in plan.spans),
        frames={indices[position]: mask for position, mask in sorted(found.items())},
    )


def _checkpoint(name: str, random_weights: bool, cache_dir: str | Path | None) -> tuple[str, dict | None]:
    """(size, state dict or None for random weights) for a size, a repo id or a local file."""
    size = next((s for s, (repo, *_) in MODELS.items() if name in (s, repo)), None)
    if random_weights:
        if size is None:
            raise SegmentError(f"random weights need a SAM 2.1 size ({', '.join(MODELS)}), not {name!r}")
        return size, None
    path = Path(name).expanduser()
    if path.is_file():
        weights = _read(path)
        return _size_of(weights, path), weights
    if size is None:
        raise SegmentError(
            f"unknown SAM 2 model {name!r}: use {', '.join(MODELS)}, a facebook/sam2.1-hiera-* repo id or a .pt file"
        )
    return size, _read(_download(size, cache_dir))


def _read(path: Path) -> dict:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many kinds (pickle, zip, EOF) for a file that is not a checkpoint
        raise SegmentError(f"{path} is not a SAM 2.1 checkpoint ({type(err).__name__})") from err
    weights = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(weights, dict):
        raise SegmentError(f"{path} is not a SAM 2.1 checkpoint (no weights in it)")
    return weights


def _size_of(weights: dict, path: Path) -> str:
    """The Hiera trunk's width and depth name the size."""
    patch = weights.get("image_encoder.trunk.patch_embed.proj.weight")
    blocks = {k.split(".")[3] for k in weights if k.startswith("image_encoder.trunk.blocks.")}
    size = _TRUNKS.get((patch.shape[0], len(blocks))) if patch is not None else None
    if size is None:
        raise SegmentError(f"{path} is not a SAM 2.1 checkpoint of a known size ({', '.join(MODELS)})")
    return size


def _download(size: str, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    repo, _, filename = MODELS[size]
    fix = f"download {filename} from {repo} where there is network and pass its path as the SAM 2 model"
    try:
        return Path(hf_hub_download(repo, filename, cache_dir=cache_dir))
    except LocalEntryNotFoundError as err:  # offline mode, or the hub is unreachable, and nothing cached
        why = "offline mode is on (HF_HUB_OFFLINE)" if constants.HF_HUB_OFFLINE else "the hub cannot be reached"
        raise SegmentError(f"SAM 2 model {repo} is not in the Hugging Face cache and {why}; {fix}") from err
    except (HfHubHTTPError, OSError) as err:
        raise SegmentError(f"could not download SAM 2 model {repo} ({type(err).__name__}); {fix}") from err


def _build(size: str, image_size: int | None, seed: int) -> Any:
    """The size's video predictor on the CPU, with random weights drawn from `seed`."""
    if importlib.util.find_spec("sam2") is None:
        raise SegmentError(
            "SAM 2 is not installed: run `pip install --no-deps --no-build-isolation sam2==1.1.0` (see README)"
        )
    from sam2.build_sam import build_sam2_video_predictor  # imports hydra and sets up sam2's config search path

    overrides = [f"++model.max_cond_frames_in_attn={KEYFRAMES_ATTENDED}"]
    overrides += [f"++model.image_size={image_size}"] if image_size else []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        predictor = build_sam2_video_predictor(MODELS[size][1], None, device="cpu", hydra_overrides_extra=overrides)
    if importlib.util.find_spec("sam2._C") is None:
        predictor.fill_hole_area = 0  # hole filling needs sam2's CUDA extension; without it sam2 warns every frame
    return predictor


def _stopped(cancel: Cancel | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    return cancel.is_set if hasattr(cancel, "is_set") else cancel


def _counter(progress: Progress | None, total: int) -> Callable[[], None]:
    """tick() reports progress(done, total) with done rising by one from 0."""
    done = 0
    if progress:
        progress(0, total)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    return tick
