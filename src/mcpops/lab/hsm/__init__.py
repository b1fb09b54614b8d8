"""The lab's HSM (seed 001): a SoftHSM2 token of its own (softhsm_token.py) and the lab HSM service in front of it
(hsm_service.py: HTTPS with the test CA, GET /health, POST /sign through PKCS#11 with python-pkcs11).

    python -m mcpops.lab.hsm init --state-dir DIR    # a token, its PINs (0600 files) and a P-256 signing key
    python -m mcpops.lab.hsm serve                   # the service, configured from the environment

What a real HSM is here and what is not: docs/dev/hsm-lab.md.
"""
