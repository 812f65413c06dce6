"""``python -m serving.examples``: regenerate the response examples from a model."""

from serving.examples.regenerate import main

if __name__ == "__main__":
    raise SystemExit(main())
