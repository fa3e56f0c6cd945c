# claimstance: every target is one CLI call on the project's own .venv (made by `make install`).
.DEFAULT_GOAL := help
SHELL := /bin/bash

PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
CONFIG  ?= train/configs/base.toml
MODEL   ?= model/claimstance-minilm
ENSEMBLE ?= model/claimstance-ensemble
IN      ?= data/samples/article.txt
OUT     ?= -
SPLIT   ?= test
REALNEWS ?= ../shared/realnews/dev.jsonl
MEMORY_SECONDS ?= 0
# exit 0 when the model dir (argument 1) is the run its config (argument 2) describes: same
# train file, same settings (claimstance.config.stale_reason); else say why not
export CURRENT := import sys; from claimstance.config import stale_reason; \
  reason = stale_reason(*sys.argv[1:]); print(f"{sys.argv[1]}: trained on {reason}") if reason else None; \
  sys.exit(reason is not None)
# for config $$c: set $$out to its output_dir and train it unless it holds that config's run
TRAIN_CURRENT = out=$$(sed -n 's/^output_dir *= *"\(.*\)"/\1/p' $$c); \
  if [ -f "$$out/model.safetensors" ] && $(BIN)/python -c "$$CURRENT" "$$out" "$$c"; \
  then echo "$$out: present, trained as $$c says on the current corpus"; \
  else $(BIN)/claimstance train --config $$c || exit 1; fi
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help install run train predict eval ensemble results corpus data-report sweep test test-slow lint format typecheck clean bench bench-memory ablations adapt-check annotator-check

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/claimstance: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(BIN)/claimstance ## create .venv and install the project with its dev tools

$(MODEL)/model.safetensors: | $(BIN)/claimstance
	$(BIN)/claimstance train --config $(CONFIG) --output $(MODEL)

run: $(MODEL)/model.safetensors ## install if needed, train if needed, label the example article
	$(BIN)/claimstance predict $(IN) --model $(MODEL) --format table

train: install ## train the default model (CONFIG=train/configs/base.toml)
	$(BIN)/claimstance train --config $(CONFIG) --output $(MODEL)

predict: install ## label IN (file, dir or -) into OUT (.jsonl/.csv, - for stdout)
	$(BIN)/claimstance predict $(IN) -o $(OUT) --model $(MODEL)

eval: install ## model reports on SPLIT and real news, the comparison with baselines and ablations, and the ensemble's reports if built
	$(BIN)/claimstance evaluate data/corpus/$(SPLIT).jsonl --model $(MODEL)
	@if [ -f $(REALNEWS) ]; then $(BIN)/claimstance evaluate $(REALNEWS) --model $(MODEL) \
	  --report-dir eval/reports/$(notdir $(MODEL))/realnews-dev; fi
	$(BIN)/claimstance compare --model $(MODEL) --realnews $(REALNEWS) --out-dir eval/reports/comparison
	@if [ -f $(ENSEMBLE)/claimstance.json ]; then \
	  $(BIN)/claimstance evaluate data/corpus/$(SPLIT).jsonl --model $(ENSEMBLE) && \
	  if [ -f $(REALNEWS) ]; then $(BIN)/claimstance evaluate $(REALNEWS) --model $(ENSEMBLE) \
	    --report-dir eval/reports/$(notdir $(ENSEMBLE))/realnews-dev; fi; fi

ablations: install ## train every ablation model that is missing, or trained on an older corpus or config (8-24 min each)
	@for c in train/configs/ablations/*.toml; do $(TRAIN_CURRENT); done

ensemble: install ## the default model and its two seed runs as one ensemble (more accurate, a third of the speed)
	@test -f $(MODEL)/model.safetensors || $(MAKE) train
	@test -f $(MODEL)/model.int8.onnx || $(BIN)/claimstance export --model $(MODEL)
	@for c in train/configs/ablations/seed-2.toml train/configs/ablations/seed-3.toml; do \
	  $(TRAIN_CURRENT); [ -f "$$out/model.int8.onnx" ] || $(BIN)/claimstance export --model $$out || exit 1; done
	$(BIN)/claimstance ensemble $(MODEL) model/ablations/seed-2 model/ablations/seed-3 --output $(ENSEMBLE)

PLAN ?= regularisation
sweep: install ## multi-seed sweep of training variants on a CUDA GPU (PLAN=variants|epochs|regularisation)
	$(BIN)/python train/sweep.py --plan $(PLAN) --realnews $(REALNEWS) --out eval/reports/sweep/$(PLAN)

results: install ## print the README's results rows from the committed reports of MODEL
	$(BIN)/claimstance results --model $(MODEL)

corpus: install ## rebuild data/corpus/{train,dev,test}.jsonl from the rounds in data/raw/
	$(BIN)/claimstance build-corpus --raw-dir data/raw --out-dir data/corpus

data-report: install ## corpus counts per label, split and domain, with a bar chart (data/report/)
	$(BIN)/claimstance data-report --corpus-dir data/corpus --out-dir data/report

test: install ## the fast offline test suite (tiny random models)
	$(BIN)/pytest -q

test-slow: install ## slow tests: the real base checkpoint and quality thresholds
	$(BIN)/pytest -q -m slow

lint: install ## ruff lint
	$(BIN)/ruff check src tests train eval

format: install ## ruff format and fix imports
	$(BIN)/ruff check --fix src tests train eval
	$(BIN)/ruff format src tests train eval

typecheck: install ## mypy on src/
	$(BIN)/mypy src

clean: ## remove caches (keeps .venv and models)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info

adapt-check: install ## ECE of predict --adapt by the number of sentences it adapts on, on real news (eval/reports/adapt/)
	$(BIN)/python eval/adapt_sample_size.py $(REALNEWS) --model $(MODEL)

annotator-check: install ## the blind annotators of eval/annotators/ and the model against the real-news gold (eval/reports/annotators/)
	$(BIN)/python eval/annotator_agreement.py $(REALNEWS) eval/annotators/A.jsonl eval/annotators/B.jsonl --model $(MODEL)

bench: install ## throughput of every backend vs transformers.pipeline (eval/reports/bench/)
	$(BIN)/python eval/bench.py --model $(MODEL) --out-dir eval/reports/bench $(BENCH_ARGS)

bench-memory: install ## peak memory of predict on a generated 100 MB JSONL file (MEMORY_SECONDS caps it)
	$(BIN)/python eval/bench.py --model $(MODEL) --out-dir eval/reports/bench --memory-mb 100 \
	  --memory-only --memory-seconds $(MEMORY_SECONDS)
