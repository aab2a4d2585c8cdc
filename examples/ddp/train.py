#!/usr/bin/env python3
"""Data-parallel training with PyTorch DDP, as Strata runs it: copy this to start your own.

Strata starts one process per worker (`--workers N`, the spec's `distributed.num_workers`) and gives each
torchrun's variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, ...), so
`init_process_group()` needs no arguments. The gang lives and dies as one: when a rank fails, Strata stops
the others and retries the whole gang, which resumes here from the newest checkpoint in
STRATA_CHECKPOINT_DIR (the same folder for every attempt of the job).

- gloo on CPU, NCCL when CUDA is present;
- synthetic data (a noisy linear target), split between the ranks by a DistributedSampler;
- the loss, averaged over the ranks, reported by rank 0 as a STRATA_METRIC line;
- a checkpoint every epoch, written by rank 0, read by every rank on start;
- the model saved to MODEL_OUTPUT_PATH by rank 0.

Hyperparameters (HYPERPARAM_*): epochs (5), lr (0.05), batch_size (32), epoch_seconds (0: a pause after each
epoch, to watch a resume happen).
"""
import hashlib
import json
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

EPOCHS = int(os.environ.get("HYPERPARAM_EPOCHS", "5"))
LR = float(os.environ.get("HYPERPARAM_LR", "0.05"))
BATCH_SIZE = int(os.environ.get("HYPERPARAM_BATCH_SIZE", "32"))
EPOCH_SECONDS = float(os.environ.get("HYPERPARAM_EPOCH_SECONDS", "0"))


def main():
    cuda = torch.cuda.is_available()
    # The rendezvous comes from the environment Strata sets (env://).
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if cuda:
        # CUDA_VISIBLE_DEVICES shows each rank its own devices: the first is its own.
        device = torch.device("cuda", 0)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    print(f"rank {rank} of {world_size} on {device}, master {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}", flush=True)

    # The same synthetic data on every rank; the sampler gives each rank its own part of it.
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2048, 16, generator=generator)
    target = features @ torch.randn(16, 1, generator=generator) + 0.01 * torch.randn(2048, 1, generator=generator)
    dataset = TensorDataset(features, target)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, sampler=sampler)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    checkpoint = os.path.join(os.environ.get("STRATA_CHECKPOINT_DIR", "."), "ddp-checkpoint.pt")
    first_epoch = 0
    if os.path.exists(checkpoint):
        state = torch.load(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_epoch = state["epoch"] + 1
        print(f"rank {rank} resumed from {checkpoint} at epoch {first_epoch}", flush=True)
    ddp_model = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)

    for epoch in range(first_epoch, EPOCHS):
        sampler.set_epoch(epoch)
        total, batches = 0.0, 0
        for batch, expected in loader:
            batch, expected = batch.to(device), expected.to(device)
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(ddp_model(batch), expected)
            loss.backward()  # DDP all-reduces the gradients here: every replica takes the same step
            optimizer.step()
            total += loss.item()
            batches += 1
        mean_loss = torch.tensor([total / max(batches, 1)], device=device)
        dist.all_reduce(mean_loss)
        mean_loss /= world_size
        if rank == 0:
            print("STRATA_METRIC " + json.dumps({"name": "loss", "value": round(mean_loss.item(), 6), "step": epoch}), flush=True)
            # Written aside and renamed: a kill mid-write leaves the previous checkpoint whole.
            torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, checkpoint + ".tmp")
            os.replace(checkpoint + ".tmp", checkpoint)
            print(f"epoch {epoch}: loss {mean_loss.item():.4f}, checkpoint saved", flush=True)
        # No rank starts the next epoch before the checkpoint of this one is whole.
        dist.barrier()
        if EPOCH_SECONDS:
            time.sleep(EPOCH_SECONDS)

    # Every replica took the same steps: their parameters are identical, which this checksum shows.
    parameters = b"".join(p.detach().cpu().contiguous().numpy().tobytes() for p in model.parameters())
    print(f"rank {rank} parameters sha256 {hashlib.sha256(parameters).hexdigest()[:16]}", flush=True)
    if rank == 0 and os.environ.get("MODEL_OUTPUT_PATH"):
        os.makedirs(os.environ["MODEL_OUTPUT_PATH"], exist_ok=True)
        model_file = os.path.join(os.environ["MODEL_OUTPUT_PATH"], "model.pt")
        torch.save(model.state_dict(), model_file)
        print(f"wrote {model_file}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
