# Same commands as the README and .ci/run.
.PHONY: test e2e bench

test:
	bash scripts/install-test-deps.sh && python -m pytest && IMAGELINT_E2E=1 python -m pytest -m e2e

e2e:
	IMAGELINT_E2E=1 python -m pytest -m e2e

bench:
	python benchmarks/run.py
