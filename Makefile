# The two commands (README): `make demo` runs an incident drill on the local lab, `make test` runs the tests.
.PHONY: demo test bootstrap lint unit integration sanity clean

bootstrap:
	scripts/bootstrap

test: bootstrap
	scripts/test

demo: bootstrap
	scripts/demo

unit: bootstrap
	.venv/bin/python -m pytest tests/unit

integration: bootstrap
	.venv/bin/python -m pytest tests/integration

sanity: bootstrap
	PATH=$(CURDIR)/.venv/bin:$$PATH scripts/sanity

clean:
	rm -rf .venv build runs *.tar.gz
