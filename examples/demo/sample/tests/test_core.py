import unittest

from calc import evaluate
from calc.core import tokenize


class TokenizeTest(unittest.TestCase):
    def test_splits_numbers_operators_and_parentheses(self) -> None:
        self.assertEqual(tokenize("2*(3 + 4.5)"), ["2", "*", "(", "3", "+", "4.5", ")"])

    def test_rejects_unknown_characters(self) -> None:
        with self.assertRaises(ValueError):
            tokenize("2 ^ 3")


class EvaluateTest(unittest.TestCase):
    def test_precedence_and_parentheses(self) -> None:
        self.assertEqual(evaluate("2 + 3 * 4"), 14)
        self.assertEqual(evaluate("(2 + 3) * 4"), 20)
        self.assertEqual(evaluate("10 / 4 - 1"), 1.5)

    def test_left_associativity(self) -> None:
        self.assertEqual(evaluate("8 - 3 - 2"), 3)

    def test_malformed_input(self) -> None:
        for text in ("(1 + 2", "1 + 2)", "1 +", ""):
            with self.subTest(text=text), self.assertRaises(ValueError):
                evaluate(text)


if __name__ == "__main__":
    unittest.main()
