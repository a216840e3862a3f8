"""The fuzzy-search calibration points of PROTOCOL.md §4.17 (query, path, score, indices), observed on 0.58.0."""

CALIBRATION = [
    ("main", "main.txt", 114, [0, 1, 2, 3]),
    ("main", "src/main.py", 109, [4, 5, 6, 7]),
    ("main", "tests/test_main.py", 104, [11, 12, 13, 14]),
    ("btn", "src/components/Button.tsx", 59, [15, 17, 20]),
    ("fbb", "src/components/FooBarBaz.ts", 68, [15, 18, 21]),
    ("abc", "abc.txt", 88, [0, 1, 2]),
    ("abc", "a_b_c.txt", 78, [0, 2, 4]),
    ("abc", "xaxbxc.txt", 42, [1, 3, 5]),
    ("tsx", "src/components/Button.tsx", 80, [22, 23, 24]),
    ("readme", "README.md", 166, [0, 1, 2, 3, 4, 5]),
    ("readme", "docs/readme.md", 159, [5, 6, 7, 8, 9, 10]),
    ("src/c", "src/components/Button.tsx", 140, [0, 1, 2, 3, 4]),
    ("comp but", "src/components/Button.tsx", 193, [4, 5, 6, 7, 15, 16, 17]),
    ("s/u/h", "src/utils/helpers.py", 108, [0, 3, 4, 9, 10]),
    ("s/u/h", "src/utils/Main_Helper.py", 100, [0, 3, 4, 9, 15]),
    ("mn", "src/main.py", 46, [4, 7]),
]
