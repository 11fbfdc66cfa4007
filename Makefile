# Verbs of the project. Each is a thin line calling Python inside .venv,
# which the first target that needs it creates from requirements.lock.

PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
SUBMISSION  ?= solutions/rnn
SUBMISSIONS ?= submissions
OUTPUT      ?= results

.PHONY: release test grade grade-all check autograder-zip bench data lock clean

$(STAMP): requirements.lock
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

release: $(STAMP)             ## solutions/ + source_notebooks/ -> assignment/ (then leak scan)
	$(PY) -m autograder release

test: $(STAMP)                ## lint (ruff, configured in pyproject.toml), then the whole test suite
	$(VENV)/bin/ruff check --output-format concise .
	$(PY) -m pytest -q -n 2 --dist loadfile  # two processes (pytest-xdist), a file in one

grade: $(STAMP)               ## grade one submission: make grade SUBMISSION=path/to/folder-or.zip
	$(PY) -m autograder grade $(SUBMISSION) --output $(OUTPUT)/results.json

grade-all: $(STAMP)           ## grade a folder of submissions
	$(PY) -m autograder grade-all $(SUBMISSIONS) --output $(OUTPUT)

check: $(STAMP)               ## student self-check on the public cases
	$(PY) -m autograder check $(SUBMISSION)

autograder-zip: $(STAMP)      ## the Gradescope autograder zip
	$(PY) -m autograder autograder-zip

bench: $(STAMP)               ## speed benchmarks, printed side by side
	$(PY) bench/bench_rnn.py && $(PY) bench/bench_grader.py && $(PY) bench/bench_batch.py \
	  && $(PY) bench/bench_notebook.py

data: $(STAMP)                ## download CIFAR-10 (python format): make data [URL=path-or-url MD5=md5]
	$(PY) -m autograder data $(if $(URL),--url "$(URL)") $(if $(MD5),--md5 "$(MD5)")

lock:                         ## re-pin requirements.lock from a fresh install of pyproject's pins
	rm -rf /tmp/rnn-lock-venv && $(PYTHON_BOOT) -m venv /tmp/rnn-lock-venv
	/tmp/rnn-lock-venv/bin/pip install --quiet numpy matplotlib pytest pytest-xdist nbgrader jupyter \
	  jinja2 tqdm dask distributed ruff
	{ echo "# Exact pins of every package in the project virtual environment (pip freeze)."; \
	  echo "# Regenerate: make lock"; /tmp/rnn-lock-venv/bin/pip freeze; } > requirements.lock

clean:
	rm -rf $(VENV) build .pytest_cache
