import os
import subprocess
import sys
import time

import pytest

from dcirc_utils import load_pair
from dcirc_utils.models.pairs import pick_device
from dcirc_utils.models.registry import PAIRS


def test_registry_and_unknown_name():
    assert {"gpt2", "gpt2-random", "mini"} <= set(PAIRS)
    with pytest.raises(KeyError, match="known pairs"):
        load_pair("gpt3")


def test_pick_device_prefers_explicit():
    assert pick_device("cpu").type == "cpu"


@pytest.mark.parametrize("name, fixes", [
    ("gpt2", ("connect", "HF_HOME", "load_pair('small')")),
    ("llama-minitron", ("'meta-llama/Llama-3.1-8B'", "nvidia/Llama-3.1-Minitron-4B-Depth-Base", "connect", "HF_HOME",
                        "load_pair('llama-random')", "gated", "huggingface-cli login", "'small'")),
])
def test_hub_pair_offline_fails_fast_with_fixes(tmp_path, name, fixes):
    """Offline with an empty cache, a hub pair fails within seconds with PairUnavailableError naming every fix."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path), TRANSFORMERS_OFFLINE="1")
    code = ("from dcirc_utils import load_pair\n"
            f"try:\n    load_pair({name!r})\nexcept Exception as e:\n    print(type(e).__name__); print(e)\n")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert "PairUnavailableError" in out.stdout, out.stdout + out.stderr
    for fix in fixes:
        assert fix in out.stdout, fix
    assert elapsed < 10, f"offline failure took {elapsed:.1f} s"


# --------------------------------------------------------------------------------------------- the Llama pairs
def test_llama_pairs_are_registered_built_in_and_the_real_one_is_the_studys():
    from dcirc_utils.models.builtin import BUILTIN_PAIRS
    from dcirc_utils.models.byo import register_hf_pair
    from dcirc_utils.models.pairs import STUDY_PAIRS, is_stand_in
    assert {"llama-minitron", "llama-random"} <= set(PAIRS) and {"llama-minitron", "llama-random"} <= BUILTIN_PAIRS
    assert "llama-minitron" in STUDY_PAIRS and not is_stand_in("llama-minitron")
    assert is_stand_in("llama-random") and is_stand_in("gpt2-random") and not is_stand_in("gpt2")
    with pytest.raises(ValueError, match="built-in pair"):
        register_hf_pair("llama-random", "/models/teacher", "/models/student")


def test_minitron_depth_layer_map_keeps_blocks_0_to_14_and_the_last():
    """The blocks Minitron-4B-Depth kept: 16 increasing blocks of the 32, the contiguous blocks 15..30 dropped (the
    NeMo tutorial's 1-indexed "16-31, leaving 1-15 and 32")."""
    from dcirc_utils.core.components import check_layer_map
    from dcirc_utils.models.builtin import MINITRON_DEPTH_LAYER_MAP as MAP
    assert len(MAP) == 16 and check_layer_map(MAP, 32, 16) == list(MAP)
    assert MAP[0] == 0 and MAP[-1] == 31 and all(0 <= t < 32 for t in MAP)
    dropped = sorted(set(range(32)) - set(MAP))
    assert dropped == list(range(15, 31))                                 # one contiguous run of 16 blocks
    assert [t + 1 for t in dropped] == list(range(16, 32))                # the 1-indexed "layers 16 to 31"


def test_llama_dtype_policy():
    import torch

    from dcirc_utils.models.builtin import llama_dtype
    assert llama_dtype(torch.device("cuda")) is torch.bfloat16 and llama_dtype(torch.device("cuda:1")) is torch.bfloat16
    assert llama_dtype(torch.device("cpu")) is torch.float32 and llama_dtype("mps") is torch.float32


def test_pair_layer_map_prefers_the_recorded_map():
    from types import SimpleNamespace

    from dcirc_utils.models.pairs import pair_layer_map

    def pair(n_teacher, n_student, layer_map=None):
        return SimpleNamespace(teacher=SimpleNamespace(n_layers=n_teacher),
                               student=SimpleNamespace(n_layers=n_student), layer_map=layer_map)
    assert pair_layer_map(pair(12, 6)) == [0, 2, 4, 7, 9, 11]          # the DistilGPT2 rule: the small pair's labels
    assert pair_layer_map(pair(6, 3)) == [0, 2, 5]
    recorded = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 31]
    assert pair_layer_map(pair(32, 16, recorded)) == recorded
    assert pair_layer_map(pair(32, 16)) != recorded                    # the rule would label Minitron's student wrongly


def _tiny_llama(n_layers: int = 6, tie: bool = False, seed: int = 0):
    """A random Llama (4 query heads sharing 2 key/value heads, d_model 32) with random norm weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=tie, initializer_range=0.1)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def test_init_decoder_student_copies_the_mapped_blocks_exactly():
    """Every student parameter is the teacher's parameter it was copied from (block i from block layer_map[i]), the
    teacher is unchanged, and the student's logits equal a naive reference: the teacher run through the kept blocks
    only."""
    import copy

    import torch

    from dcirc_utils.models.init import init_decoder_student
    teacher = _tiny_llama()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    layer_map = [0, 2, 5]
    student = init_decoder_student(teacher, layer_map)
    assert student.config.num_hidden_layers == 3 and len(student.model.layers) == 3
    assert student.config.dcirc_layer_map == layer_map and teacher.config.num_hidden_layers == 6
    t_params = dict(teacher.named_parameters())
    for name, p in student.named_parameters():
        if name.startswith("model.layers."):
            i, rest = name[len("model.layers."):].split(".", 1)
            name = f"model.layers.{layer_map[int(i)]}.{rest}"
        assert torch.equal(p, t_params[name]), name
    per_block = len(dict(teacher.model.layers[0].named_parameters()))
    assert len(dict(student.named_parameters())) == len(t_params) - 3 * per_block     # 3 of the 6 blocks dropped
    assert student.lm_head.weight.data_ptr() != student.model.embed_tokens.weight.data_ptr()   # untied, as the teacher
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    naive = copy.deepcopy(teacher)
    naive.model.layers = torch.nn.ModuleList([naive.model.layers[j] for j in layer_map])
    naive.config.num_hidden_layers = len(layer_map)
    tokens = torch.randint(0, 97, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours, ref, full = student(tokens).logits, naive(tokens, use_cache=False).logits, teacher(tokens).logits
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    assert float((ours - full).abs().max()) > 1e-3          # dropping blocks changes the function (the test can fail)


def test_init_decoder_student_ties_a_tied_teacher_and_rejects_other_layouts():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from dcirc_utils.models.init import init_decoder_student
    tied = _tiny_llama(n_layers=4, tie=True)
    student = init_decoder_student(tied, [1, 3])
    assert student.lm_head.weight.data_ptr() == student.model.embed_tokens.weight.data_ptr()
    assert torch.equal(student.lm_head.weight, tied.lm_head.weight)
    for bad in ([3, 1], [0, 4], [2, 2]):
        with pytest.raises(ValueError, match="increasing teacher layers"):
            init_decoder_student(tied, bad)
    with pytest.raises(TypeError, match="Llama-family"):
        init_decoder_student(GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=50)), [0])




def test_numeral_prompts_name_the_split_space_of_llama3s_tokenizer(gpt2_tok):
    """Llama-3's tokenizer splits " 5" into " " + "5" (its pre-tokenizer's regex, applied here to GPT-2's vocabulary,
    does the same): the numeral set cannot be written for it, and the error says why and what to do."""
    import copy

    from tokenizers import Regex, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from dcirc_utils.core.tasks import make_prompts
    llama3_split = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                    r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    inner = copy.deepcopy(gpt2_tok.backend_tokenizer)
    inner.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(llama3_split), behavior="isolated"),
                                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = PreTrainedTokenizerFast(tokenizer_object=inner, eos_token=gpt2_tok.eos_token, bos_token=gpt2_tok.bos_token)
    assert tok.tokenize(" 5") == ["Ġ", "5"] and gpt2_tok.tokenize(" 5") == ["Ġ5"] and tok.tokenize(" cat") == ["Ġcat"]
    with pytest.raises(ValueError, match=r"splits the leading space off(.|\n)*docs/pairs.md"):
        make_prompts(8, seed=0, tokenizer=tok)
    assert len(make_prompts(8, seed=0, tokenizer=gpt2_tok)) == 8                     # the same set with GPT-2's
