"""Tasks as prompt sets: the study's numeral task and its variants, IOI, closed-book QA and greater-than.

Every notebook takes a :class:`PromptSet` from here: ``make_prompts`` (the numeral task, as before) or
``make_task(name, ...)`` for any registered task (:data:`TASKS`). Modules: ``base`` (the set, the registry, the
study's filter, JSON), ``numerals``, ``ioi``, ``qa``, ``greater_than``. Importing this package registers every
task. ``python -m dcirc_utils.core.tasks`` rewrites the shipped sets under ``data/prompts`` and ``data/tasks``.
"""
from .base import (DATA_DIR, SPLITS, TASKS, PromptSet, TaskSpec, answer_token_ids, check_prompt_set,
                   check_split, end_values, filter_prompts, load_prompt_set, make_task, register_task,
                   save_prompt_set, single_token_words, single_token_words_with_space, token_strings, vocab_mask)
from .numerals import (ALL_VARIANTS, MAX_TEMPLATE_SENTENCES, MIXED_WORD_ELEMENTS, MONTHS, NAMES, NOUNS,
                       NUMBER_WORDS, RANGE_SHIFT_STARTS, SHIFT_BOUNDARY, SHIFT_VARIANTS, SHIFT_VERB, VARIANTS, VERBS,
                       check_verbs, is_heldout, make_prompts, write_default_sets)
from .ioi import (IOI_NAMES, IOI_OBJECTS, IOI_ORDERS, IOI_PLACES, IOI_TEMPLATES, ioi_is_heldout, ioi_sentence,
                  ioi_template, make_ioi)
from .qa import (QA_CITIES, QA_N_PEOPLE, QA_QUESTION, QA_REAL_PATH, QA_WORLD, load_real_facts, make_qa,
                 qa_is_heldout, qa_people)
from .greater_than import (GPT2_UNSPLIT_YEARS, GT_CENTURIES, GT_CORRUPT_YY, GT_NOUNS, GT_YY, greater_than_metric,
                           gt_is_heldout, gt_prompt, gt_years, make_greater_than, two_digit_ids)
from .masked import CLS, MASK, SEP, make_ioi_masked, make_numerals_masked, masked_text
from .sets import write_task_sets

__all__ = [
    # base
    "DATA_DIR", "SPLITS", "TASKS", "PromptSet", "TaskSpec", "answer_token_ids", "check_prompt_set", "check_split",
    "end_values", "filter_prompts", "load_prompt_set", "make_task", "register_task", "save_prompt_set",
    "single_token_words", "single_token_words_with_space", "token_strings", "vocab_mask",
    # numerals
    "ALL_VARIANTS", "MAX_TEMPLATE_SENTENCES", "MIXED_WORD_ELEMENTS", "MONTHS", "NAMES", "NOUNS", "NUMBER_WORDS",
    "RANGE_SHIFT_STARTS", "SHIFT_BOUNDARY", "SHIFT_VARIANTS", "SHIFT_VERB", "VARIANTS", "VERBS", "is_heldout",
    "make_prompts", "write_default_sets", "check_verbs",
    # ioi
    "IOI_NAMES", "IOI_OBJECTS", "IOI_ORDERS", "IOI_PLACES", "IOI_TEMPLATES", "ioi_is_heldout", "ioi_sentence",
    "ioi_template", "make_ioi",
    # qa
    "QA_CITIES", "QA_N_PEOPLE", "QA_QUESTION", "QA_REAL_PATH", "QA_WORLD", "load_real_facts", "make_qa",
    "qa_is_heldout", "qa_people",
    # greater-than
    "GPT2_UNSPLIT_YEARS", "GT_CENTURIES", "GT_CORRUPT_YY", "GT_NOUNS", "GT_YY", "greater_than_metric",
    "gt_is_heldout", "gt_prompt", "gt_years", "make_greater_than", "two_digit_ids",
    # masked (encoders)
    "CLS", "MASK", "SEP", "make_ioi_masked", "make_numerals_masked", "masked_text",
    "write_task_sets",
]
