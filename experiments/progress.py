"""How far the protocol's run_net calls are, and about how long the rest takes.

Every planned call has a kind: its stage and its run's name (``("train+test", "mutualnet_wc")``), the
same for every seed. A call not finished yet is expected to take the mean wall time of the finished
calls of its kind (those of earlier invocations included, from their records); the sum is divided by
the number of calls that run at a time. Calls of a kind none of which has finished are counted, not
timed. Not thread-safe: the caller holds its lock.
"""
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

Kind = Tuple[str, str]  # (stage, run name)


class Progress:
    """``[i/N]`` of the ``total`` calls and the estimate of the time left (``jobs``: calls at a
    time); the estimate starts once every call is planned with its kind."""

    def __init__(self, jobs: int, total: int):
        self.jobs, self.total = jobs, total
        self.started = 0
        self.planned: Counter = Counter()  # kind: calls planned
        self.times: Dict[Kind, List[float]] = defaultdict(list)  # kind: wall times of its finished calls
        self.ended: Counter = Counter()  # kind: calls that ended (finished or diverged)

    def plan(self, kinds: Sequence[Kind], added: bool = False) -> None:
        """Give calls of the total their kinds; ``added``: they are new calls, beyond the total."""
        self.planned.update(kinds)
        self.total += len(kinds) if added else 0

    def start(self) -> str:
        """The next call's place, ``[i/N]``."""
        self.started += 1
        return f"[{self.started}/{self.total}]"

    def end(self, kind: Kind, record: Dict) -> None:
        """A call of ``kind`` ended with ``record`` (its driver record: status, wall_s)."""
        self.ended[kind] += 1
        if record["status"] == "finished":
            self.times[kind].append(record["wall_s"])

    def seconds_left(self) -> Tuple[float, int]:
        """The estimated wall time of the calls not ended (``jobs`` at a time), and how many of them
        could not be timed (no call of their kind has finished)."""
        work, untimed = 0.0, 0
        for kind, count in self.planned.items():
            remaining = max(count - self.ended[kind], 0)
            if self.times[kind]:
                work += remaining * sum(self.times[kind]) / len(self.times[kind])
            else:
                untimed += remaining
        return work / self.jobs, untimed

    def left(self) -> Optional[str]:
        """``about 3.2 h left`` (and ``+ N calls not timed yet``); None until every call is planned and
        one has been timed."""
        if sum(self.planned.values()) < self.total or not any(self.times.values()):
            return None
        seconds, untimed = self.seconds_left()
        text = f"about {seconds / 3600:.1f} h left" if seconds >= 5400 else f"about {seconds / 60:.0f} min left"
        return text + (f" + {untimed} calls not timed yet" if untimed else "")
