"""One clip of one video for inference at a sub-network config (the deployment path)."""
from fvcore.common.config import CfgNode

from ..config.subnet import SubnetConfig
from ..models.registry import get_arch
from .decoders import open_video, resolve_backend
from .derive import Inputs, derive_input
from .sampling import TemporalSampling, pack_pathways
from .transforms import SpatialTransform


def load_clip(path: str, cfg: CfgNode, sub: SubnetConfig, crop: int = None) -> Inputs:
    """The centre clip of the video at ``path``, ready for the model at ``sub``.

    Decodes the full config's frames (DATA.NUM_FRAMES at DATA.SAMPLING_RATE) from the middle of the
    video, scales the short side to ``crop`` (default DATA.TEST_CROP_SIZE) and takes the centre
    crop, normalises, packs SlowFast pathways, then derives ``sub``'s input as the trainer does.
    Returns a batch of one: ``(1, 3, T, H, W)`` or ``[slow, fast]``.
    """
    crop = crop or cfg.DATA.TEST_CROP_SIZE
    sampling = TemporalSampling("clip", cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS,
                                num_views=1, use_offset=True)
    with open_video(path, resolve_backend(cfg.DATA.DECODING_BACKEND)) as reader:
        frames = reader.read(sampling.indices(reader.num_frames, reader.fps, view=0))  # (T, H, W, 3) uint8
    transform = SpatialTransform(crop_size=crop, scale_range=(crop, crop), train=False, mean=tuple(cfg.DATA.MEAN),
                                 std=tuple(cfg.DATA.STD), reverse_channels=cfg.DATA.REVERSE_INPUT_CHANNEL)
    arch = get_arch(cfg.MODEL.ARCH)
    clip = pack_pathways(transform(frames), arch.frame_ratios(cfg))  # (3, T, crop, crop) or list
    batch = [x.unsqueeze(0) for x in clip] if isinstance(clip, list) else clip.unsqueeze(0)
    return derive_input(batch, sub, arch.reduce_pathways(cfg))
