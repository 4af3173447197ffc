# Two commands: `make run` (the whole system on SQLite) and `make test` (every test).
.PHONY: run test train classify evaluate check-channels report admin member retention bench lint lock

run:
	@bash tools/setup.sh
	@.venv/bin/python -m tools.train
	@.venv/bin/python -m tools.stack

test:
	@bash tools/setup.sh --test
	@.venv/bin/python -m tools.train
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

train:
	@bash tools/setup.sh
	@.venv/bin/python -m tools.train $(if $(FORCE),--force)

classify:
	@bash tools/setup.sh
	@.venv/bin/python -m tools.train
	@PYTHONPATH=. .venv-rasa/bin/python -m nlu.classify

check-channels:
	@bash tools/setup.sh
	@.venv/bin/python -m bot.check_channels

report:
	@bash tools/setup.sh
	@.venv/bin/python -m bot.reports.command $(ARGS)

admin:
	@bash tools/setup.sh
	@.venv/bin/python -m bot.staff_command $(ARGS)

member:
	@bash tools/setup.sh
	@.venv/bin/python -m bot.member_command $(ARGS)

retention:
	@bash tools/setup.sh
	@.venv/bin/python -m bot.member_command retention $(ARGS)

bench:
	@if [ -z "$(ARGS)" ]; then echo 'usage: make bench ARGS="ingest|e2e|burst|memory|profile [--db sqlite,postgresql] [--quick] [--out FILE]"' >&2; exit 2; fi
	@bash tools/setup.sh
	@.venv/bin/python -m tools.train
	@.venv/bin/python -m bench $(ARGS)

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

lock:
	@.venv/bin/pip install -q -r requirements/project.in
	@{ echo '# Pinned from requirements/project.in with `make lock`; installed into .venv.'; \
	   .venv/bin/pip freeze; } > requirements/project.lock

evaluate:
	@bash tools/setup.sh
	@PYTHONPATH=. .venv-rasa/bin/python -m nlu.evaluate
