"""trainers.bench's measurements: the FLOPs of one update, the matmul reference, the matrix products alone."""
import time

import numpy as np
import torch

from trainers import bench
from trainers.agents import Agent
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config


def filled(cfg: Config) -> tuple[Agent, ReplayBuffer]:
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(11, 3)
    for t in range(300):
        obs = rng.normal(size=11)
        buffer.add(obs, rng.uniform(-1, 1, 3), 1.0, obs + 0.1, t % 50 == 49, t % 50 == 49)
    torch.manual_seed(0)
    return make_agent(cfg, 11, 3), buffer


def test_update_flops_scale_with_the_batch():
    # every matrix product of an update is linear in the batch; only SN's power iteration is not
    flops = {}
    for b in (16, 32):
        agent, buffer = filled(Config.tiny(algo="rp-dp", h=3, sn=False, batch_size=b))
        flops[b] = bench.update_flops(agent, buffer, step=agent.cfg.model_warmup)
    assert flops[16] > 0
    assert flops[32] == 2 * flops[16]


def test_update_flops_match_a_hand_count_for_ddpg_critic_and_actor():
    cfg = Config.tiny(algo="ddpg", h=0, batch_size=8, critic_layers=2, policy_layers=2)
    agent, buffer = filled(cfg)
    n, hdim = 8, cfg.critic_hidden
    mlp = lambda i, o: 2 * n * (i * hdim + hdim * o)  # two Linear layers, forward
    critic, policy = mlp(14, 1), mlp(11, 3)
    # critic update: target actor + target critic forward, critic forward and backward (weight
    # gradients, and input gradient of the second layer only); actor update: actor forward and
    # backward (weights; input gradient of its second layer), critic forward and input gradients
    # of both layers (the action needs them), frozen weights
    critic_step = policy + critic + critic + (critic + 2 * n * hdim * 1)
    actor_step = policy + (policy + 2 * n * hdim * 3) + critic + 2 * n * (hdim * 1 + 14 * hdim)
    assert bench.update_flops(agent, buffer, step=cfg.model_warmup) == critic_step + actor_step


def test_matmul_reference_is_positive():
    assert bench.matmul_gflops(n=64, seconds=0.05) > 0


def test_matmul_ceiling_replays_every_matrix_product_of_the_update():
    # the replayed products carry exactly the FLOPs the counter finds in an update, SN included
    agent, buffer = filled(Config.tiny(algo="rp-dp", h=3, sn=True))
    gflops, flops = bench.matmul_ceiling(agent, buffer, step=agent.cfg.model_warmup, seconds=0.002)
    assert flops == bench.update_flops(agent, buffer, step=agent.cfg.model_warmup)
    assert gflops > 0


def test_like_keeps_the_layout_of_transposed_and_expanded_operands():
    t = bench.like((2, 256, 14), (0, 1, 256))
    assert t.shape == (2, 256, 14) and t.stride() == (0, 1, 256)


def test_matmul_in_situ_times_only_the_matrix_products_of_real_updates():
    agent, buffer = filled(Config.tiny(algo="rp-dp", h=3, sn=True))
    step = agent.cfg.model_warmup
    timer = bench.TimeMatmuls()
    c0 = time.process_time()
    with timer:
        agent.update(buffer, np.random.default_rng(0), step=step)
    assert 0 < timer.seconds < time.process_time() - c0
    assert bench.matmul_in_situ(agent, buffer, step, np.random.default_rng(1), updates=2) > 0


def test_mlp_gflops_counts_forward_weight_and_hidden_input_gradients():
    # 3 Linear layers on n rows: forward, weight gradients, input gradients of layers 2 and 3 only
    n, i, h, o = 8, 5, 16, 2
    forward = 2 * n * (i * h + h * h + h * o)
    gflops, flops = bench.mlp_gflops(i, h, o, 3, batch=n, seconds=0.01)
    assert flops == 2 * forward + 2 * n * (h * h + h * o)
    assert gflops > 0
