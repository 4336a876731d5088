"""Saving and loading a model safely: no pickle, no half-written files, no silent mismatch.

A checkpoint is a folder::

    checkpoint.json              configs, step, history, tokenizer identity, SHA-256 of every other file
    model.safetensors            the weights (a tied weight is stored once, and tied again on load)
    training_state.safetensors   AdamW's moment estimates and the random generators' states (optional)
    tokenizer.json               the tokenizer, as its own ``save`` writes it (optional)

Why these choices:

- *safetensors*, not ``torch.save``: ``torch.save`` writes a pickle, and loading a pickle runs whatever code
  it names. A safetensors file holds only tensors and a JSON header; loading it cannot run code.
- *Atomic writes*: each file is written to a temporary file in the same folder, flushed to the disk
  (``fsync``), then renamed over the old one (``os.replace``, atomic). A crash mid-save leaves the previous
  file intact, never a truncated one. ``checkpoint.json`` is written last and records the SHA-256 of the
  files it belongs with, so a folder whose files come from two different saves is detected on load.
- *Checks on load*: given a model or a tokenizer, ``load_checkpoint`` checks that they match the checkpoint
  and says exactly what differs (``checkpoint has n_embd=128 but the model has n_embd=64``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import safetensors.torch
import torch
import torch.nn as nn

from nbutils.validate import require_int

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "tokenizer_identity", "write_atomic"]

FORMAT = "nbutils-checkpoint"
VERSION = 1
_META = "checkpoint.json"
_WEIGHTS = "model.safetensors"
_TRAINING = "training_state.safetensors"
_TOKENIZER = "tokenizer.json"
_GPT_CLASS = "nbutils.model.GPT"


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns. ``history`` and ``train_config`` are plain dicts
    (``nbutils.train.History.from_dict`` / ``TrainConfig.from_dict`` turn them back into objects);
    ``optimizer_state`` is ready for ``optimizer.load_state_dict``."""

    model: nn.Module
    model_config: dict | None
    tokenizer: Any | None
    step: int | None
    history: dict | None
    train_config: dict | None
    optimizer_state: dict | None
    rng_state: dict | None
    path: Path


# ------------------------------------------------------------------------------------------- writing files
def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of ``data``.

    The bytes go to a temporary file in the same folder (a rename is atomic only within one file system),
    are flushed and fsync'ed to the disk, and the temporary file is then renamed over ``path``.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)  # mkstemp makes the file owner-only; give it the usual permissions instead
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible, and not needed, on Windows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except (OSError, AttributeError):
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------- tied weights
def _storage_key(tensor: torch.Tensor) -> tuple:
    return (tensor.device.type, tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
            tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def _split_tied(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Keep each shared tensor once: ``(tensors to store, {tied name: name it is stored under})``.

    A model with weight tying lists the same tensor under two names (``wte.weight`` and ``lm_head.weight``);
    safetensors refuses to store shared memory twice, and storing it once keeps the file small.
    """
    names, tied = _split_tied_names(state)
    stored = {name: state[name].detach().to("cpu", copy=True).contiguous() for name in names}
    return stored, tied


# ------------------------------------------------------------------------------------------- tokenizers
def tokenizer_identity(tokenizer: Any) -> dict[str, Any]:
    """Class name, vocabulary size and a SHA-256 that changes whenever the tokenizer would encode differently.

    The hash is taken over the tokenizer's saved form (``tokenizer.save``), re-written as compact JSON with
    sorted keys so that formatting does not matter; a tokenizer without ``save`` is hashed by the bytes of
    every token id.
    """
    identity: dict[str, Any] = {"class": type(tokenizer).__name__,
                                "vocab_size": int(getattr(tokenizer, "vocab_size", -1)), "sha256": None}
    saved = _tokenizer_bytes(tokenizer)
    if saved is not None:
        canonical = json.dumps(json.loads(saved), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        identity["sha256"] = _sha256(canonical.encode("utf-8"))
    elif callable(getattr(tokenizer, "token_bytes", None)) and identity["vocab_size"] > 0:
        digest = hashlib.sha256()
        for token_id in range(identity["vocab_size"]):
            piece = tokenizer.token_bytes(token_id)
            digest.update(len(piece).to_bytes(4, "little") + piece)
        identity["sha256"] = digest.hexdigest()
    return identity


def _tokenizer_bytes(tokenizer: Any) -> bytes | None:
    """The file ``tokenizer.save`` writes, as bytes (None if the tokenizer cannot save itself)."""
    if not callable(getattr(tokenizer, "save", None)):
        return None
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / _TOKENIZER
        tokenizer.save(target)
        return target.read_bytes()


def _describe_tokenizer(identity: Mapping[str, Any]) -> str:
    digest = identity.get("sha256")
    return (f"{identity.get('class')} (vocab_size {identity.get('vocab_size')}"
            + (f", sha256 {digest[:12]}…)" if digest else ")"))


# ------------------------------------------------------------------------------------------- configs
def _as_dict(config: Any, what: str) -> dict | None:
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, Mapping):
        return dict(config)
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError(f"{what} must be a dataclass, a dict or have to_dict(), got {type(config).__name__}")


# ------------------------------------------------------------------------------------------- optimiser state
def _optimizer_to_flat(state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for param_id, values in state["state"].items():
        plain = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{param_id}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                plain[key] = value
        per_param[str(param_id)] = plain
    return tensors, {"param_groups": state["param_groups"], "state": per_param}


def _optimizer_from_flat(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in meta["state"].items()}
    for name, tensor in tensors.items():
        _, param_id, key = name.split(".", 2)
        state.setdefault(int(param_id), {})[key] = tensor
    groups = []
    for group in meta["param_groups"]:  # JSON turned tuples such as betas=(0.9, 0.99) into lists
        groups.append({k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in group.items()})
    return {"state": state, "param_groups": groups}


# ------------------------------------------------------------------------------------------- save
def save_checkpoint(path: str | os.PathLike, model: nn.Module, model_config: Any = None, tokenizer: Any = None,
                    optimizer: torch.optim.Optimizer | None = None, history: Any = None, train_config: Any = None,
                    step: int | None = None, rng_state: Mapping[str, Any] | None = None) -> Path:
    """Save a model (and optionally everything needed to continue training) into the folder ``path``.

    ``model_config`` defaults to ``model.config``. ``history`` may be a ``History`` or a dict; ``rng_state`` is
    what ``Trainer.rng_state()`` returns. The tokenizer is saved next to the weights when it can save itself.
    Returns the folder's path.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if step is not None:
        require_int("step", step, minimum=0)
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is a file; a checkpoint is a folder, give a folder path")
    folder.mkdir(parents=True, exist_ok=True)
    model_config = _as_dict(model_config if model_config is not None else getattr(model, "config", None),
                            "model_config")

    weights, tied = _split_tied(model.state_dict())
    files: dict[str, str] = {}
    data = safetensors.torch.save(weights)
    write_atomic(folder / _WEIGHTS, data)
    files[_WEIGHTS] = _sha256(data)

    optimizer_meta = None
    rng_meta: dict[str, Any] | None = None
    if optimizer is not None or rng_state is not None:
        tensors: dict[str, torch.Tensor] = {}
        if optimizer is not None:
            optimizer_tensors, optimizer_meta = _optimizer_to_flat(optimizer.state_dict())
            tensors.update(optimizer_tensors)
        if rng_state is not None:
            rng_meta = {}
            for name, value in rng_state.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"rng.{name}"] = value.detach().to("cpu", copy=True).contiguous()
                else:
                    rng_meta[name] = value
        data = safetensors.torch.save(tensors)
        write_atomic(folder / _TRAINING, data)
        files[_TRAINING] = _sha256(data)

    tokenizer_meta = None
    if tokenizer is not None:
        tokenizer_meta = tokenizer_identity(tokenizer)
        saved = _tokenizer_bytes(tokenizer)
        if saved is not None:
            write_atomic(folder / _TOKENIZER, saved)
            files[_TOKENIZER] = _sha256(saved)
            tokenizer_meta["file"] = _TOKENIZER

    model_class = f"{type(model).__module__}.{type(model).__qualname__}"
    meta = {
        "format": FORMAT, "version": VERSION, "step": step, "model_class": model_class,
        "model_config": model_config, "tied": tied,
        "parameters": {name: list(tensor.shape) for name, tensor in weights.items()},
        "train_config": _as_dict(train_config, "train_config"),
        "history": _as_dict(history, "history"),
        "tokenizer": tokenizer_meta, "optimizer": optimizer_meta, "rng": rng_meta, "files": files,
    }
    write_atomic(folder / _META, json.dumps(meta, indent=1).encode("utf-8"))  # last: it vouches for the others
    return folder


# ------------------------------------------------------------------------------------------- load
def _read_checked(folder: Path, name: str, files: Mapping[str, str]) -> bytes:
    file = folder / name
    if not file.is_file():
        raise ValueError(f"checkpoint {str(folder)!r} lists {name} but the file is missing")
    data = file.read_bytes()
    if _sha256(data) != files[name]:
        raise ValueError(f"{name} in {str(folder)!r} does not belong to this checkpoint.json (its SHA-256 "
                         f"differs): a save was interrupted or files from two saves were mixed")
    return data


def _config_differences(saved: Mapping[str, Any], current: Mapping[str, Any],
                        defaults: Mapping[str, Any] | None = None) -> list[str]:
    """What differs between two configs. A field the checkpoint lacks is no difference when the model has it
    at its default (``defaults``): the checkpoint was written before that option existed."""
    lines = []
    defaults = defaults or {}
    for key in sorted(set(saved) | set(current)):
        if key not in current:
            lines.append(f"checkpoint has {key}={saved[key]!r} but the model's config has no {key}")
        elif key not in saved and key in defaults and current[key] == defaults[key]:
            continue
        elif key not in saved:
            lines.append(f"the model has {key}={current[key]!r} but the checkpoint's config has no {key}")
        elif saved[key] != current[key]:
            lines.append(f"checkpoint has {key}={saved[key]!r} but the model has {key}={current[key]!r}")
    return lines


def _parameter_differences(saved: Mapping[str, torch.Tensor], current: Mapping[str, torch.Tensor],
                           limit: int = 6) -> list[str]:
    lines = []
    missing = [name for name in current if name not in saved]
    extra = [name for name in saved if name not in current]
    if missing:
        lines.append(f"the model has parameters the checkpoint lacks: {', '.join(missing[:limit])}"
                     + (" ..." if len(missing) > limit else ""))
    if extra:
        lines.append(f"the checkpoint has parameters the model lacks: {', '.join(extra[:limit])}"
                     + (" ..." if len(extra) > limit else ""))
    shapes = [f"{name}: checkpoint has shape {tuple(saved[name].shape)} but the model has {tuple(tensor.shape)}"
              for name, tensor in current.items() if name in saved and saved[name].shape != tensor.shape]
    lines.extend(shapes[:limit])
    return lines


def _build_model(meta: Mapping[str, Any]) -> nn.Module:
    if meta.get("model_class") != _GPT_CLASS or meta.get("model_config") is None:
        raise ValueError(f"this checkpoint holds a {meta.get('model_class')}; only {_GPT_CLASS} can be rebuilt "
                         f"from its config. Build the model yourself and pass it: load_checkpoint(path, model=...)")
    from nbutils.model import GPT, GPTConfig

    return GPT(GPTConfig(**meta["model_config"]))


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None, tokenizer: Any = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    map_location: str | torch.device | None = "cpu") -> Checkpoint:
    """Load a checkpoint folder written by ``save_checkpoint``.

    - ``model=None`` builds an ``nbutils.model.GPT`` from the saved config, moved to ``map_location``. A given
      model must match the checkpoint (config fields, parameter names and shapes, weight tying); it keeps its
      device.
    - ``tokenizer=None`` loads the saved tokenizer if there is one; a given tokenizer must be the same as the
      saved one (class, vocabulary size and hash of its saved form).
    - ``optimizer``, when given, gets the saved optimiser state loaded into it.

    Raises ValueError that names every difference when something does not match.
    """
    folder = Path(path)
    meta_file = folder / _META
    if not meta_file.is_file():
        raise FileNotFoundError(f"no {_META} in {str(folder)!r}: is this a folder written by save_checkpoint?")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{str(meta_file)!r} is not an nbutils checkpoint (format {meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise ValueError(f"checkpoint format version {meta['version']} is newer than this nbutils "
                         f"understands ({VERSION}); update nbutils")
    files = meta["files"]

    # weights, with tied names pointing at the tensor they share
    weights = safetensors.torch.load(_read_checked(folder, _WEIGHTS, files))
    for name, source in meta.get("tied", {}).items():
        weights[name] = weights[source]

    built = model is None
    if built:
        model = _build_model(meta)
    elif not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
    problems: list[str] = []
    current_config = getattr(model, "config", None)
    if meta.get("model_config") is not None and current_config is not None:
        defaults = ({f.name: f.default for f in dataclasses.fields(current_config)}
                    if dataclasses.is_dataclass(current_config) else None)
        problems += _config_differences(meta["model_config"], _as_dict(current_config, "model.config"), defaults)
    current = model.state_dict()
    problems += _parameter_differences(weights, current)
    _, current_tied = _split_tied_names(current)
    for name, source in meta.get("tied", {}).items():
        if current_tied.get(name) != source and name in current and source in current:
            problems.append(f"in the checkpoint {name} is tied to {source} (one shared tensor), "
                            f"but in the model they are separate tensors")
    for name, source in current_tied.items():
        if name not in meta.get("tied", {}) and name in weights and source in weights \
                and not torch.equal(weights[name], weights[source]):
            problems.append(f"the model ties {name} to {source}, but the checkpoint stores two different tensors")
    if problems:
        raise ValueError("the checkpoint does not match the model:\n  " + "\n  ".join(problems))
    model.load_state_dict(weights, strict=True)
    if built and map_location is not None:
        model = model.to(map_location)

    # tokenizer
    saved_tokenizer = meta.get("tokenizer")
    if tokenizer is not None and saved_tokenizer is not None:
        given = tokenizer_identity(tokenizer)
        differs = [key for key in ("class", "vocab_size", "sha256") if given.get(key) != saved_tokenizer.get(key)]
        if differs:
            raise ValueError(f"the checkpoint was trained with {_describe_tokenizer(saved_tokenizer)} but the "
                             f"tokenizer given is {_describe_tokenizer(given)} (differs in {', '.join(differs)})")
    elif tokenizer is None and saved_tokenizer is not None and saved_tokenizer.get("file"):
        from nbutils.tokenizers import Tokenizer

        _read_checked(folder, saved_tokenizer["file"], files)
        tokenizer = Tokenizer.load(folder / saved_tokenizer["file"])

    # optimiser and random states
    optimizer_state = rng_state = None
    if _TRAINING in files:
        tensors = safetensors.torch.load(_read_checked(folder, _TRAINING, files))
        if meta.get("optimizer") is not None:
            optimizer_state = _optimizer_from_flat(
                {k: v for k, v in tensors.items() if k.startswith("optimizer.")}, meta["optimizer"])
        if meta.get("rng") is not None:
            rng_state = dict(meta["rng"])
            rng_state.update({k[len("rng."):]: v for k, v in tensors.items() if k.startswith("rng.")})
    if optimizer is not None:
        if optimizer_state is None:
            raise ValueError("an optimizer was given, but this checkpoint was saved without optimizer state")
        optimizer.load_state_dict(optimizer_state)

    return Checkpoint(model=model, model_config=meta.get("model_config"), tokenizer=tokenizer,
                      step=meta.get("step"), history=meta.get("history"), train_config=meta.get("train_config"),
                      optimizer_state=optimizer_state, rng_state=rng_state, path=folder)


def _split_tied_names(state: Mapping[str, torch.Tensor]) -> tuple[list[str], dict[str, str]]:
    """Like ``_split_tied`` but without copying: (names stored, {tied name: its owner})."""
    owner: dict[tuple, str] = {}
    tied: dict[str, str] = {}
    for name, tensor in state.items():
        key = _storage_key(tensor)
        if key in owner:
            tied[name] = owner[key]
        else:
            owner[key] = name
    return list(owner.values()), tied
