"""transformers 5.23, the numerical reference, made importable on the CPU test machine (tests only).

The only torchvision build matching torch 2.13 on the registry is CUDA-linked; next to the CPU torch its import
fails on the missing `torchvision::nms` operator, and transformers imports torchvision whenever it is installed.
Declaring the operator schemas first lets the pure-Python parts of torchvision (all the Molmo2 processors use)
import; on a machine with a matching torchvision the first import simply succeeds and nothing is changed.
"""

from __future__ import annotations

import sys

import torch

_libraries: list[torch.library.Library] = []


def make_torchvision_importable() -> None:
    if "torchvision" in sys.modules and not _libraries:
        return
    try:
        import torchvision

        return
    except ImportError:
        return
    except RuntimeError:
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor qdets, Tensor qscores, float iou_threshold) -> Tensor")
    _libraries.append(library)
    import torchvision  # noqa: F401


def transformers():
    make_torchvision_importable()
    import transformers as module

    module.logging.set_verbosity_error()
    return module


def load_reference(path, dtype=torch.float32):
    """(model, processor) of transformers 5.23 loaded from a checkpoint directory."""
    tf = transformers()
    model = tf.AutoModelForImageTextToText.from_pretrained(str(path), dtype=dtype).eval()
    processor = tf.AutoProcessor.from_pretrained(str(path))
    return model, processor


def load_reference_processor(path):
    return transformers().AutoProcessor.from_pretrained(str(path))


def reference_inputs(processor, messages, *, max_crops=None, video=None):
    """The reference processor's outputs for a conversation; a video is (frames [T,H,W,3] uint8, times)."""
    tf = transformers()
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images = [p["image"] for m in messages if not isinstance(m["content"], str) for p in m["content"] if "image" in p]
    kwargs = {"return_tensors": "pt"}
    if max_crops is not None:
        kwargs["max_crops"] = max_crops
    if images:
        kwargs["images"] = [images]
    if video is not None:
        frames, times = video
        # fps = 1 with frames_indices = times makes the reference write exactly these timestamps.
        metadata = tf.video_utils.VideoMetadata(
            total_num_frames=len(frames), fps=1.0, frames_indices=list(times), duration=float(times[-1])
        )
        kwargs.update(videos=[frames], video_metadata=[metadata], do_sample_frames=False)
    return processor(text=text, **kwargs)
