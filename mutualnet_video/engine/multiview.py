"""Multi-view testing with PySlowFast semantics: every video is seen as NUM_ENSEMBLE_VIEWS x
NUM_SPATIAL_CROPS views, their scores are aggregated per video (sum or max), and top-1 / top-5 are
measured per video, over all ranks."""
from typing import Dict, Sequence

import torch
import torch.nn as nn

from ..data.derive import Inputs
from ..utils import distributed as du


def aggregate_views(scores: torch.Tensor, video_index: torch.Tensor, num_videos: int, method: str = "sum"):
    """Per-video scores from per-view scores.

    Args:
        scores: ``(N_views, K)`` scores of single views.
        video_index: ``(N_views,)`` video each view belongs to, in ``[0, num_videos)``.
        method: ``sum`` or ``max`` (DATA.ENSEMBLE_METHOD).
    Returns:
        ``(video_scores (num_videos, K), views (num_videos,))``: videos without views score 0.
    """
    reduce = {"sum": "sum", "max": "amax"}[method]  # DATA.ENSEMBLE_METHOD, checked by load_config
    video_scores = torch.zeros(num_videos, scores.shape[1], dtype=scores.dtype)
    index = video_index.long().unsqueeze(1).expand_as(scores)
    video_scores.scatter_reduce_(0, index, scores, reduce=reduce, include_self=False)
    views = torch.bincount(video_index.long(), minlength=num_videos)
    video_scores[views == 0] = 0.0
    return video_scores, views


def video_topk(video_scores: torch.Tensor, video_labels: torch.Tensor, views: torch.Tensor,
               ks: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k accuracy (%) over the videos that got at least one view."""
    seen = views > 0
    scores, labels = video_scores[seen], video_labels[seen]
    out = {"num_videos": int(seen.sum())}
    for k in ks:
        top = scores.topk(min(k, scores.shape[1]), dim=1).indices
        out[f"top{k}"] = 100.0 * (top == labels.unsqueeze(1)).any(1).float().mean().item() if len(labels) else 0.0
    return out


def _scores(logits: torch.Tensor, head_act: str) -> torch.Tensor:
    if head_act == "softmax":
        return logits.float().softmax(dim=-1)
    if head_act == "sigmoid":
        return logits.float().sigmoid()
    return logits.float()


@torch.no_grad()
def multiview_test(model: nn.Module, loader, num_videos: int, device: torch.device, *,
                   head_act: str = "softmax", method: str = "sum", amp: bool = False,
                   forward=None) -> Dict:
    """Score every view of ``loader`` (already at the config's frames and crop, model already at its
    width and BN statistics) and aggregate per video, gathering all ranks' views.

    Returns ``{"top1", "top5", "num_videos", "video_scores" (V, K), "video_labels" (V,), "views" (V,)}``.
    """
    forward = forward or (lambda m, x: m(x))
    model.eval()
    scores, labels, videos = [], [], []
    for inputs, label, _, meta in loader:
        inputs: Inputs = du.to_device(inputs, device)
        with torch.autocast(device.type, enabled=amp):
            logits = forward(model, inputs)
        scores.append(_scores(logits, head_act).cpu())
        labels.append(label.cpu())
        videos.append(torch.as_tensor(meta["video_index"]).cpu())
    # NCCL gathers device tensors; gloo (CPU) gathers in place
    scores, labels, videos = (du.all_gather_cat(torch.cat(t).to(device)).cpu() for t in (scores, labels, videos))
    video_scores, views = aggregate_views(scores, videos, num_videos, method)
    video_labels = torch.full((num_videos,), -1, dtype=torch.long)
    video_labels[videos.long()] = labels.long()
    return {**video_topk(video_scores, video_labels, views), "video_scores": video_scores,
            "video_labels": video_labels, "views": views}
