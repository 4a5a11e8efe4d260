"""Behaviour cloning: a small MLP learns observation -> (throttle, steering) from a dataset, within budgets.

    result = train_bc(dataset, Budget(max_steps=2000, max_seconds=60), progress=print, gates=MachineGates())

- inputs are normalised with the training episodes' mean and std (the manifest carries them, so the
  car normalises the same way); outputs pass a tanh, so they are always a valid command;
- held-out episodes (split by episode, never by frame: neighbouring frames are near copies) measure
  the validation loss every `eval_every` steps; training stops early when it has not improved for
  `patience` checks, and the best weights are kept;
- budgets: at most `max_steps` steps and `max_seconds` of wall time, whichever comes first;
- `progress` gets a TrainProgress after every check (a progress bar and a live loss plot);
- the machine's gates (learning/gates.py) are asked before training and at every check: a car that
  starts driving, overheats or runs low stops the training (TrainingRefused).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from learning.dataset import Dataset
from learning.gates import MachineGates, TrainingRefused

STD_FLOOR = 1e-3  # a feature that never changes (gates_left in a trick without gates) is not divided by ~0
TARGET_VAR_FLOOR = 1e-3  # loss weights are 1/variance per output, so a small throttle counts as much as steering


@dataclass(frozen=True)
class Budget:
    max_steps: int = 3000
    max_seconds: float = 60.0
    batch_size: int = 256
    learning_rate: float = 3e-3
    hidden: tuple[int, ...] = (64, 64)
    val_fraction: float = 0.2  # of the episodes (at least one, when there are two or more)
    eval_every: int = 50
    patience: int = 10  # checks without a better validation loss before stopping
    seed: int = 0
    threads: int = 1  # the machine is shared; a small MLP gains little from more
    target: str = "action"  # the column to imitate: the applied command, or "requested_action"

    def __post_init__(self) -> None:
        if self.max_steps < 1 or not self.max_seconds > 0:
            raise ValueError(f"budget needs max_steps >= 1 and max_seconds > 0 (got {self.max_steps}, {self.max_seconds})")


@dataclass(frozen=True)
class TrainProgress:
    step: int
    max_steps: int
    elapsed_s: float
    max_seconds: float
    train_loss: float
    val_loss: float | None
    best_val_loss: float | None

    @property
    def fraction(self) -> float:
        """How far along the budget (steps or time, whichever is nearer its end), 0..1."""
        return min(1.0, max(self.step / self.max_steps, self.elapsed_s / self.max_seconds))


@dataclass
class TrainResult:
    model: nn.Module
    mean: np.ndarray
    std: np.ndarray
    state_names: list[str]
    steps: int
    elapsed_s: float
    stopped_because: str  # "early stop" | "step budget" | "time budget"
    best_val_loss: float | None
    train_episodes: list[int]
    val_episodes: list[int]
    history: list[dict] = field(default_factory=list)  # one entry per check: step, train_loss, val_loss

    def report(self) -> dict:
        return {"steps": self.steps, "elapsed_s": round(self.elapsed_s, 3), "stopped_because": self.stopped_because,
                "best_val_loss": self.best_val_loss, "train_episodes": self.train_episodes,
                "val_episodes": self.val_episodes, "history": self.history}


def make_mlp(n_in: int, hidden: tuple[int, ...], n_out: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.Tanh()]
        width = h
    layers += [nn.Linear(width, n_out), nn.Tanh()]
    return nn.Sequential(*layers)


def split_episodes(n_episodes: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    order = np.random.default_rng(seed).permutation(n_episodes).tolist()
    n_val = 0 if n_episodes < 2 else max(1, round(val_fraction * n_episodes))
    return sorted(order[n_val:]), sorted(order[:n_val])


def train_bc(
    ds: Dataset,
    budget: Budget = Budget(),
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    gates: MachineGates | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TrainResult:
    if gates is not None:
        gates.require("train")
    states, actions, episode = ds.states, ds.column(budget.target), ds.episode_index
    n_eps = int(episode.max()) + 1 if len(episode) else 0
    if n_eps == 0:
        raise ValueError(f"dataset {ds.root} has no frames to learn from")
    train_eps, val_eps = split_episodes(n_eps, budget.val_fraction, budget.seed)
    train_mask, val_mask = np.isin(episode, train_eps), np.isin(episode, val_eps)
    mean = states[train_mask].mean(0)
    std = np.maximum(states[train_mask].std(0), STD_FLOOR)
    x = torch.from_numpy(((states - mean) / std).astype(np.float32))
    y = torch.from_numpy(actions.astype(np.float32))
    weights = torch.from_numpy((1.0 / np.maximum(actions[train_mask].var(0), TARGET_VAR_FLOOR)).astype(np.float32))
    weights = weights / weights.sum()
    x_tr, y_tr = x[torch.from_numpy(train_mask)], y[torch.from_numpy(train_mask)]
    x_va, y_va = x[torch.from_numpy(val_mask)], y[torch.from_numpy(val_mask)]

    old_threads = torch.get_num_threads()
    torch.set_num_threads(budget.threads)
    try:
        gen = torch.Generator().manual_seed(budget.seed)
        torch.manual_seed(budget.seed)
        model = make_mlp(x.shape[1], budget.hidden)
        opt = torch.optim.Adam(model.parameters(), lr=budget.learning_rate)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=budget.max_steps, eta_min=budget.learning_rate / 20)

        def loss_of(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            return (((model(xb) - yb) ** 2) * weights).sum(1).mean()

        best, best_state, since_best = math.inf, None, 0
        history: list[dict] = []
        start = clock()
        step, stopped, running = 0, "step budget", 0.0
        while step < budget.max_steps:
            idx = torch.randint(0, len(x_tr), (min(budget.batch_size, len(x_tr)),), generator=gen)
            loss = loss_of(x_tr[idx], y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running = loss.item() if step == 1 else 0.9 * running + 0.1 * loss.item()
            last = step == budget.max_steps
            if step % budget.eval_every and not last:
                continue
            elapsed = clock() - start
            val = None
            if len(x_va):
                with torch.no_grad():
                    val = float(loss_of(x_va, y_va))
                if val < best * (1 - 1e-3):
                    best, since_best = val, 0
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
                else:
                    since_best += 1
            history.append({"step": step, "elapsed_s": round(elapsed, 3), "train_loss": running, "val_loss": val})
            if progress is not None:
                progress(TrainProgress(step, budget.max_steps, elapsed, budget.max_seconds, running, val,
                                       None if best == math.inf else best))
            if gates is not None:
                gates.require("keep training")
            if since_best >= budget.patience:
                stopped = "early stop"
                break
            if elapsed >= budget.max_seconds:
                stopped = "time budget"
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
    finally:
        torch.set_num_threads(old_threads)
    return TrainResult(model, mean, std, ds.state_names, step, clock() - start, stopped,
                       None if best == math.inf else best, train_eps, val_eps, history)


__all__ = ["Budget", "TrainProgress", "TrainResult", "TrainingRefused", "make_mlp", "split_episodes", "train_bc"]
