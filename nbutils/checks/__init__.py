"""Instant checks for the exercises: ``check_<exercise>(your_function)``.

Each notebook's checks live in their own module and are collected here, so a notebook only needs
``from nbutils.checks import check_softmax``. A passing check prints one line; a failing one raises
``CheckFailed`` with the input that failed, the expected and the actual answer, and a hint.
"""

from nbutils.checks.attention import check_attention, check_causal_attention
from nbutils.checks.classification import check_accuracy, check_last_token_logits
from nbutils.checks.core import Case, CheckFailed, run_check
from nbutils.checks.counting import check_next_word_counts
from nbutils.checks.generation import check_top_k, check_top_p
from nbutils.checks.heads import check_ablate_head, check_prefix_matching, check_second_copy_prediction
from nbutils.checks.model import check_block_forward, check_layer_norm, check_parameter_count
from nbutils.checks.modern import check_calibration_bin, check_gpt2_name, check_rms_norm
from nbutils.checks.probability import check_cross_entropy, check_softmax
from nbutils.checks.scaling import check_all_reduce_mean, check_block_flops, check_compute_optimal_tokens
from nbutils.checks.tokenization import check_bpe_encode, check_count_pairs, check_merge
from nbutils.checks.training import check_shift_by_one, check_training_step
from nbutils.checks.translation import check_mask_prompt, check_ngram_precision_recall
from nbutils.checks.world import check_fact_route, check_patched_logit_difference, check_probe_accuracy

__all__ = [
    "Case", "CheckFailed", "run_check",
    "check_next_word_counts",                      # 00
    "check_count_pairs", "check_merge", "check_bpe_encode",  # 01
    "check_softmax", "check_cross_entropy",        # 02
    "check_attention", "check_causal_attention",   # 03
    "check_layer_norm", "check_block_forward",     # 04
    "check_parameter_count",                       # 04
    "check_shift_by_one", "check_training_step",   # 05
    "check_top_k", "check_top_p",                  # 06
    "check_last_token_logits", "check_accuracy",   # 07
    "check_mask_prompt", "check_ngram_precision_recall",  # 08
    "check_probe_accuracy", "check_patched_logit_difference", "check_fact_route",  # 09
    "check_prefix_matching", "check_ablate_head", "check_second_copy_prediction",  # 10
    "check_block_flops", "check_compute_optimal_tokens", "check_all_reduce_mean",  # 11
    "check_gpt2_name", "check_rms_norm", "check_calibration_bin",  # 12
]
