"""Fuzzy scoring that reproduces nucleo-matcher 0.3.1 as codex 0.58 configures it.

0.58 builds `Pattern::new(query, CaseMatching::Smart, Normalization::Smart, AtomKind::Fuzzy)` and
scores every path with `Config::DEFAULT` (string start counts as whitespace; `/ , : ; |` are
delimiters). Everything here is written from nucleo's documented rules and observed behaviour,
including the quirks of that release that change results:

* the haystack is the first code point of each grapheme; a string whose graphemes all start
  with an ASCII character is matched byte-wise as if it were ASCII (its UTF-8 bytes included);
* the latin normalisation tables for U+1D00.. and U+2071.. map to the targets of the first
  table (a table-generation slip in that release), so we carry the effective mapping;
* atoms split on the ASCII space only; `\\ ` escapes a space;
* the optimal matcher breaks ties the way its matrix does (a gap wins a tie against a
  consecutive match; among equal end cells the last one wins), and falls back to the greedy
  matcher when the matrix would not fit nucleo's slab.

`Pattern.score` / `Pattern.indices` are the reference. `AsciiScorer` is the fast path used by the
search for ASCII paths; tests check it against the reference.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

SCORE_MATCH = 16
PENALTY_GAP_START = 3
PENALTY_GAP_EXTENSION = 1
BONUS_BOUNDARY = SCORE_MATCH // 2
BONUS_CAMEL123 = BONUS_BOUNDARY - PENALTY_GAP_START
BONUS_NON_WORD = BONUS_BOUNDARY
BONUS_CONSECUTIVE = PENALTY_GAP_START + PENALTY_GAP_EXTENSION
BONUS_FIRST_CHAR_MULTIPLIER = 2
# Config::DEFAULT (0.58 does not call match_paths()).
BONUS_BOUNDARY_WHITE = BONUS_BOUNDARY + 2
BONUS_BOUNDARY_DELIMITER = BONUS_BOUNDARY + 1
DELIMITERS = "/,:;|"

# Character classes, ordered as nucleo orders them (the order matters: "class > DELIMITER"
# means a word character).
WHITESPACE, NON_WORD, DELIMITER, LOWER, UPPER, LETTER, NUMBER = range(7)
INITIAL_CLASS = WHITESPACE

# nucleo's slab: the optimal matcher only runs when its matrix fits.
_MAX_MATRIX_CELLS = 100 * 1024
_MAX_NEEDLE_LEN = 2048
_SLAB_BYTES = 2048 * 4 + 2048 + 2048 * 2 + 2048 * 8 + _MAX_MATRIX_CELLS

_ASCII_WHITESPACE = " \t\n\x0c\r"


def _ascii_class(c: str) -> int:
    if "a" <= c <= "z":
        return LOWER
    if "A" <= c <= "Z":
        return UPPER
    if "0" <= c <= "9":
        return NUMBER
    if c in _ASCII_WHITESPACE:
        return WHITESPACE
    if c in DELIMITERS:
        return DELIMITER
    return NON_WORD


# Precomputed for the 256 values an "ASCII" haystack may hold (bytes >= 0x80 are non-word).
_BYTE_CLASS = [_ascii_class(chr(b)) if b < 128 else NON_WORD for b in range(256)]


@lru_cache(maxsize=4096)
def _unicode_class(c: str) -> int:
    if c.islower():
        return LOWER
    if c in CASE_FOLD:
        return UPPER
    if unicodedata.category(c)[0] == "N":
        return NUMBER
    if c.isalpha():
        return LETTER
    if c.isspace():
        return WHITESPACE
    return NON_WORD


def bonus_for(prev_class: int, klass: int) -> int:
    """The bonus a character of class `klass` earns after one of class `prev_class`."""
    if klass > DELIMITER:
        if prev_class == WHITESPACE:
            return BONUS_BOUNDARY_WHITE
        if prev_class == DELIMITER:
            return BONUS_BOUNDARY_DELIMITER
        if prev_class == NON_WORD:
            return BONUS_BOUNDARY
    if (prev_class == LOWER and klass == UPPER) or (prev_class != NUMBER and klass == NUMBER):
        return BONUS_CAMEL123
    if klass == WHITESPACE:
        return BONUS_BOUNDARY_WHITE
    if klass == NON_WORD:
        return BONUS_NON_WORD
    return 0


_BONUS = [[bonus_for(p, k) for k in range(7)] for p in range(7)]


def to_lower_case(c: str) -> str:
    return CASE_FOLD.get(c, c)


def normalize_char(c: str) -> str:
    return NORMALIZE.get(c, c)


# -- graphemes ------------------------------------------------------------------------------
# nucleo keeps the first code point of every extended grapheme cluster. The rules below cover
# what file names contain: CR LF, combining and spacing marks, variation selectors, ZWJ emoji
# sequences, emoji modifiers, regional-indicator pairs and Hangul syllable sequences.


def _hangul_kind(o: int) -> str:
    if 0x1100 <= o <= 0x115F or 0xA960 <= o <= 0xA97C:
        return "L"
    if 0x1160 <= o <= 0x11A7 or 0xD7B0 <= o <= 0xD7C6:
        return "V"
    if 0x11A8 <= o <= 0x11FF or 0xD7CB <= o <= 0xD7FB:
        return "T"
    if 0xAC00 <= o <= 0xD7A3:
        return "LV" if (o - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _is_extend(c: str) -> bool:
    o = ord(c)
    if o == 0x200D or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F:
        return True
    return unicodedata.category(c) in ("Mn", "Me", "Mc")


def _is_pictographic(c: str) -> bool:
    o = ord(c)
    return o >= 0x1F000 or unicodedata.category(c) == "So"


def graphemes_first(text: str) -> str:
    """The first code point of each grapheme cluster of `text`."""
    out: list[str] = []
    prev = ""
    prev_hangul = ""
    ri_run = 0
    for c in text:
        o = ord(c)
        join = False
        if prev:
            hk = _hangul_kind(o)
            if prev == "\r" and c == "\n":
                join = True
            elif prev in "\r\n" or unicodedata.category(prev) in ("Cc", "Zl", "Zp"):
                join = False
            elif unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in "\r\n":
                join = False
            elif _is_extend(c):
                join = True
            elif prev == "\u200d" and _is_pictographic(c):
                join = True
            elif (
                hk
                and prev_hangul
                and (
                    (prev_hangul == "L" and hk in ("L", "V", "LV", "LVT"))
                    or (prev_hangul in ("LV", "V") and hk in ("V", "T"))
                    or (prev_hangul in ("LVT", "T") and hk == "T")
                )
            ):
                join = True
            elif 0x1F1E6 <= o <= 0x1F1FF and ri_run % 2 == 1:
                join = True
        if not join:
            out.append(c)
        ri_run = ri_run + 1 if 0x1F1E6 <= o <= 0x1F1FF else 0
        if not _is_extend(c) or not prev_hangul:
            prev_hangul = _hangul_kind(o)
        prev = c
    return "".join(out)


# -- haystacks and needles ------------------------------------------------------------------


class Haystack:
    """A path as nucleo sees it: `ascii` mode (byte-wise) or a string of grapheme starts."""

    __slots__ = ("ascii", "chars")

    def __init__(self, text: str) -> None:
        if text.isascii():
            self.ascii = True
            self.chars = text
            return
        firsts = graphemes_first(text)
        if firsts.isascii():
            # nucleo 0.3.1 then matches the raw UTF-8 bytes as if they were ASCII.
            self.ascii = True
            self.chars = text.encode("utf-8", "surrogateescape").decode("latin-1")
        else:
            self.ascii = False
            self.chars = firsts

    def __len__(self) -> int:
        return len(self.chars)


class Atom:
    """One whitespace-separated word of the query with its smart-case/normalisation flags."""

    __slots__ = ("ascii", "ignore_case", "needle", "normalize")

    def __init__(self, raw: str) -> None:
        if raw.isascii():
            self.needle = raw.replace("\\ ", " ")
            self.ascii = True
            self.ignore_case = not any("A" <= c <= "Z" for c in self.needle)
            self.normalize = True
            return
        self.ascii = False
        ignore_case = True
        normalize = True
        chars: list[str] = []
        saw_backslash = False
        for c in graphemes_first(raw):
            if saw_backslash:
                if c == " ":
                    chars.append(" ")
                    saw_backslash = False
                    continue
                chars.append("\\")
            saw_backslash = c == "\\"
            ignore_case = ignore_case and c not in CASE_FOLD
            normalize = normalize and normalize_char(c) == c
            chars.append(c)
        self.needle = "".join(chars)
        self.ignore_case = ignore_case
        self.normalize = normalize

    def __repr__(self) -> str:
        return f"Atom({self.needle!r}, ignore_case={self.ignore_case}, normalize={self.normalize})"


def split_atoms(query: str) -> list[str]:
    """Words of the query: split on spaces not preceded by a backslash."""
    parts: list[str] = []
    current: list[str] = []
    saw_backslash = False
    for c in query:
        if c == " " and not saw_backslash:
            parts.append("".join(current))
            current = []
            saw_backslash = False
            continue
        saw_backslash = c == "\\"
        current.append(c)
    parts.append("".join(current))
    return parts


class Pattern:
    """A parsed query: its non-empty atoms (no special syntax, as AtomKind::Fuzzy)."""

    __slots__ = ("atoms",)

    def __init__(self, query: str) -> None:
        self.atoms = [atom for atom in (Atom(p) for p in split_atoms(query)) if atom.needle]

    def score(self, path: str | Haystack) -> int | None:
        hay = path if isinstance(path, Haystack) else Haystack(path)
        total = 0
        for atom in self.atoms:
            s = _Matcher(atom).fuzzy(hay, None)
            if s is None:
                return None
            total += s
        return total

    def indices(self, path: str | Haystack) -> tuple[int, list[int]] | None:
        """Score and the sorted, de-duplicated matched positions (as 0.58 reports them)."""
        hay = path if isinstance(path, Haystack) else Haystack(path)
        total = 0
        found: list[int] = []
        for atom in self.atoms:
            s = _Matcher(atom).fuzzy(hay, found)
            if s is None:
                return None
            total += s
        return total, sorted(set(found))


# -- the matcher -------------------------------------------------------------------------------


class _Matcher:
    """nucleo's `Matcher::fuzzy_match`/`fuzzy_indices` for one atom's configuration."""

    __slots__ = ("atom", "ignore_case", "normalize")

    def __init__(self, atom: Atom) -> None:
        self.atom = atom
        self.ignore_case = atom.ignore_case
        self.normalize = atom.normalize

    # character helpers; `ascii_mode` is the haystack's representation
    def klass(self, c: str, ascii_mode: bool) -> int:
        o = ord(c)
        if ascii_mode or o < 128:
            return _BYTE_CLASS[o]
        return _unicode_class(c)

    def class_and_norm(self, c: str, ascii_mode: bool) -> tuple[str, int]:
        o = ord(c)
        if ascii_mode or o < 128:
            k = _BYTE_CLASS[o]
            if self.ignore_case and k == UPPER:
                c = chr(o + 32)
            return c, k
        k = _unicode_class(c)
        fold = k == UPPER
        if self.normalize:
            c = normalize_char(c)
            fold = True
        if fold and self.ignore_case:
            c = to_lower_case(c)
        return c, k

    def norm(self, c: str, ascii_mode: bool) -> str:
        o = ord(c)
        if ascii_mode or o < 128:
            if self.ignore_case and 65 <= o <= 90:
                return chr(o + 32)
            return c
        if self.normalize:
            c = normalize_char(c)
        if self.ignore_case:
            c = to_lower_case(c)
        return c

    def needle_norm(self, c: str) -> str:
        return self.norm(c, self.atom.ascii)

    # -- dispatch --------------------------------------------------------------------------
    def fuzzy(self, hay: Haystack, indices: list[int] | None) -> int | None:
        needle = self.atom.needle
        n, m = len(needle), len(hay.chars)
        if n > m:
            return None
        if n == 0:
            return 0
        if n == m:
            return self.exact(hay, 0, m, indices)
        if hay.ascii and self.atom.ascii:
            if n == 1:
                return self.substring_1_ascii(hay.chars, needle, indices)
            found = self.prefilter_ascii(hay.chars, needle)
            if found is None:
                return None
            start, greedy_end, end = found
            if n == end - start:
                return self.calculate_score(hay, start, greedy_end, indices)
            return self.optimal(hay, start, greedy_end, end, indices)
        if hay.ascii:
            return None  # an ASCII haystack never matches a non-ASCII needle
        if n == 1:
            first = self.prefilter_unicode(hay.chars, only_greedy=True)
            if first is None:
                return None
            return self.substring_1_unicode(hay.chars, first[0], indices)
        found2 = self.prefilter_unicode(hay.chars, only_greedy=False)
        if found2 is None:
            return None
        start, end = found2
        if n == end - start:
            return self.exact(hay, start, end, indices)
        return self.optimal(hay, start, start + 1, end, indices)

    # -- prefilters ------------------------------------------------------------------------
    def _find(self, hay: str, c: str, lo: int, hi: int) -> int:
        if self.ignore_case and "a" <= c <= "z":
            a = hay.find(c, lo, hi)
            b = hay.find(c.upper(), lo, hi)
            if a < 0:
                return b
            return a if b < 0 or a < b else b
        return hay.find(c, lo, hi)

    def _rfind(self, hay: str, c: str, lo: int, hi: int) -> int:
        if self.ignore_case and "a" <= c <= "z":
            return max(hay.rfind(c, lo, hi), hay.rfind(c.upper(), lo, hi))
        return hay.rfind(c, lo, hi)

    def prefilter_ascii(self, hay: str, needle: str) -> tuple[int, int, int] | None:
        m, n = len(hay), len(needle)
        start = self._find(hay, needle[0], 0, m - n + 1)
        if start < 0:
            return None
        pos = start + 1
        for c in needle[1:]:
            i = self._find(hay, c, pos, m)
            if i < 0:
                return None
            pos = i + 1
        greedy_end = pos
        last = self._rfind(hay, needle[-1], greedy_end, m)
        end = last + 1 if last >= 0 else greedy_end
        return start, greedy_end, end

    def prefilter_unicode(self, hay: str, only_greedy: bool) -> tuple[int, int] | None:
        needle = self.atom.needle
        n, m = len(needle), len(hay)
        first = needle[0]
        start = -1
        for i in range(m - n + 1):
            if self.norm(hay[i], False) == first:
                start = i
                break
        if start < 0:
            return None
        if only_greedy:
            if m - start < n:
                return None
            return start, start + 1
        last = needle[-1]
        end = -1
        for i in range(m - 1, start, -1):
            if self.norm(hay[i], False) == last:
                end = i + 1
                break
        if end < 0 or end - start < n:
            return None
        return start, end

    # -- simple matchers ---------------------------------------------------------------------
    def exact(self, hay: Haystack, start: int, end: int, indices: list[int] | None) -> int | None:
        needle = self.atom.needle
        if len(needle) != end - start:
            return None
        if hay.ascii and not self.atom.ascii:
            return None
        if hay.ascii and not self.ignore_case:
            matched = hay.chars == needle
        else:
            pairs = zip(hay.chars[start:end], needle, strict=True)
            matched = all(self.norm(h, hay.ascii) == self.needle_norm(c) for h, c in pairs)
        if not matched:
            return None
        return self.calculate_score(hay, start, end, indices)

    def substring_1_ascii(self, hay: str, c: str, indices: list[int] | None) -> int | None:
        best, best_pos = 0, 0
        if self.ignore_case and "a" <= c <= "z":
            targets = (c, c.upper())
        else:
            targets = (c,)
        own = _BYTE_CLASS[ord(c)]
        for i, h in enumerate(hay):
            if h not in targets:
                continue
            prev = _BYTE_CLASS[ord(hay[i - 1])] if i else INITIAL_CLASS
            k = _BYTE_CLASS[ord(h)] if len(targets) == 2 else own
            bonus = _BONUS[prev][k]
            score = bonus * BONUS_FIRST_CHAR_MULTIPLIER + SCORE_MATCH
            if score > best:
                best, best_pos = score, i
                if bonus >= BONUS_BOUNDARY_WHITE:
                    break
        if best == 0:
            return None
        if indices is not None:
            indices.append(best_pos)
        return best

    def substring_1_unicode(self, hay: str, start: int, indices: list[int] | None) -> int:
        needle = self.atom.needle
        best, best_pos = 0, 0
        # nucleo only advances the "previous class" on matching characters here.
        prev = self.klass(hay[start - 1], False) if start else INITIAL_CLASS
        for i in range(start, len(hay)):
            c, k = self.class_and_norm(hay[i], False)
            if c != needle:
                continue
            bonus = _BONUS[prev][k]
            prev = k
            score = bonus * BONUS_FIRST_CHAR_MULTIPLIER + SCORE_MATCH
            if score > best:
                best, best_pos = score, i - start
                if bonus >= BONUS_BOUNDARY_WHITE:
                    break
        if indices is not None:
            indices.append(best_pos + start)
        return best

    # -- scoring a known alignment ----------------------------------------------------------
    def calculate_score(self, hay: Haystack, start: int, end: int, indices: list[int] | None) -> int:
        needle = self.atom.needle
        chars, amode = hay.chars, hay.ascii
        prev = self.klass(chars[start - 1], amode) if start else INITIAL_CLASS
        if indices is not None:
            indices.append(start)
        k = self.klass(chars[start], amode)
        first_bonus = _BONUS[prev][k]
        score = SCORE_MATCH + first_bonus * BONUS_FIRST_CHAR_MULTIPLIER
        prev = k
        ni = 1 if len(needle) > 1 else 0
        want = needle[ni]
        in_gap = False
        consecutive = 1
        for i in range(start + 1, end):
            c, k = self.class_and_norm(chars[i], amode)
            if c == want:
                if indices is not None:
                    indices.append(i)
                bonus = _BONUS[prev][k]
                if consecutive:
                    if bonus >= BONUS_BOUNDARY and bonus > first_bonus:
                        first_bonus = bonus
                    bonus = max(bonus, first_bonus, BONUS_CONSECUTIVE)
                else:
                    first_bonus = bonus
                score += SCORE_MATCH + bonus
                in_gap = False
                consecutive += 1
                if ni + 1 < len(needle):
                    ni += 1
                    want = needle[ni]
            else:
                score = max(0, score - (PENALTY_GAP_EXTENSION if in_gap else PENALTY_GAP_START))
                in_gap = True
                consecutive = 0
            prev = k
        return score

    # -- the optimal matcher ------------------------------------------------------------------
    def _fits_slab(self, length: int, n: int, char_size: int) -> bool:
        if length * n > _MAX_MATRIX_CELLS or length > 0xFFFF or n > _MAX_NEEDLE_LEN:
            return False
        off = length * char_size + length
        off = (off + 1) // 2 * 2 + 2 * n
        off = (off + 7) // 8 * 8 + 8 * (length + 1 - n)
        off += (length + 1 - n) * n
        return off <= _SLAB_BYTES

    def optimal(self, hay: Haystack, start: int, greedy_end: int, end: int, indices: list[int] | None) -> int | None:
        needle = self.atom.needle
        n = len(needle)
        length = end - start
        if not self._fits_slab(length, n, 1 if hay.ascii else 4):
            return self.greedy(hay, start, greedy_end, indices)
        chars, amode = hay.chars, hay.ascii
        prev = self.klass(chars[start - 1], amode) if start else INITIAL_CLASS
        # normalised characters, bonuses and each needle char's earliest column (greedy)
        col_chars: list[str] = []
        bonus: list[int] = []
        row_offs = [0] * n
        want_row = 0
        matched = False
        for i in range(length):
            c, k = self.class_and_norm(chars[start + i], amode)
            col_chars.append(c)
            bonus.append(_BONUS[prev][k])
            prev = k
            if c == needle[want_row]:
                if want_row + 1 < n:
                    row_offs[want_row] = i
                    want_row += 1
                elif not matched:
                    row_offs[want_row] = i
                    matched = True
        if not matched:
            return None
        width = length + 1 - n
        # per relative column: (score, consecutive_bonus, matched); UNMATCHED is (0, 0, True)
        row_score = [0] * width
        row_cons = [0] * width
        row_matched = [True] * width
        # trace[k][col] = (p_matched, m_matched) for row k, absolute column col (relative to start)
        trace: list[dict[int, tuple[bool, bool]]] | None = [] if indices is not None else None
        for k in range(n - 1):
            row_off = row_offs[k]
            next_off = row_offs[k + 1] - 1
            first_row = k == 0
            needle_char = needle[k]
            next_char = needle[k + 1]
            cells: dict[int, tuple[bool, bool]] = {}
            prev_p = 0
            prev_m = 0
            # columns before the next row starts: gaps only
            for col in range(row_off, next_off):
                sm = prev_m - PENALTY_GAP_START
                sk = prev_p - PENALTY_GAP_EXTENSION
                sm = sm if sm > 0 else 0
                sk = sk if sk > 0 else 0
                p, p_matched = (sm, True) if sm > sk else (sk, False)
                if first_row:
                    if col_chars[col] == needle_char:
                        m_score, m_matched = bonus[col] * BONUS_FIRST_CHAR_MULTIPLIER + SCORE_MATCH, False
                    else:
                        m_score, m_matched = 0, True
                else:
                    r = col - k
                    m_score, m_matched = row_score[r], row_matched[r]
                if trace is not None:
                    cells[col] = (p_matched, m_matched)
                prev_p, prev_m = p, m_score
            last_col = length - n + k
            for col in range(next_off, last_col + 1):
                sm = prev_m - PENALTY_GAP_START
                sk = prev_p - PENALTY_GAP_EXTENSION
                sm = sm if sm > 0 else 0
                sk = sk if sk > 0 else 0
                p, p_matched = (sm, True) if sm > sk else (sk, False)
                r = col - k
                if first_row:
                    if col_chars[col] == needle_char:
                        m_score, m_cons, m_matched = (
                            bonus[col] * BONUS_FIRST_CHAR_MULTIPLIER + SCORE_MATCH,
                            bonus[col],
                            False,
                        )
                    else:
                        m_score, m_cons, m_matched = 0, 0, True
                else:
                    m_score, m_cons, m_matched = row_score[r], row_cons[r], row_matched[r]
                # the next row's cell at col + 1 lands in the same relative slot
                if col_chars[col + 1] == next_char:
                    b = bonus[col + 1]
                    if m_score == 0 and m_cons == 0 and m_matched:
                        row_score[r], row_cons[r], row_matched[r] = p + b + SCORE_MATCH, b, False
                    else:
                        cons = m_cons if m_cons > BONUS_CONSECUTIVE else BONUS_CONSECUTIVE
                        if b >= BONUS_BOUNDARY and b > cons:
                            cons = b
                        take = m_score + (cons if cons > b else b)
                        skip = p + b
                        if take > skip:
                            row_score[r], row_cons[r], row_matched[r] = take + SCORE_MATCH, cons, True
                        else:
                            row_score[r], row_cons[r], row_matched[r] = skip + SCORE_MATCH, b, False
                else:
                    row_score[r], row_cons[r], row_matched[r] = 0, 0, True
                if trace is not None:
                    cells[col] = (p_matched, m_matched)
                prev_p, prev_m = p, m_score
            if trace is not None:
                trace.append(cells)
        last_off = row_offs[n - 1]
        rel_last = last_off + 1 - n
        best_rel, best = rel_last, -1
        for r in range(rel_last, width):
            if row_score[r] >= best:  # the last of equal maxima wins
                best, best_rel = row_score[r], r
        if indices is not None and trace is not None:
            found = [0] * n
            col = best_rel + n - 1
            found[n - 1] = start + col
            is_match = row_matched[best_rel]
            row = n - 2
            col -= 1
            while True:
                if is_match:
                    found[row] = start + col
                p_matched, m_matched = trace[row][col]
                next_match = m_matched if is_match else p_matched
                if is_match:
                    if row == 0:
                        break
                    row -= 1
                col -= 1
                is_match = next_match
            indices.extend(found)
        return best

    def greedy(self, hay: Haystack, start: int, end: int, indices: list[int] | None) -> int | None:
        needle = self.atom.needle
        chars, amode = hay.chars, hay.ascii
        both_ascii = amode and self.atom.ascii
        if not both_ascii:
            first_char_end = end
            if len(needle) > 1:
                ni = 1
                found_end = -1
                for i in range(first_char_end, len(chars)):
                    if self.norm(chars[i], amode) == needle[ni]:
                        if ni + 1 >= len(needle):
                            found_end = i + 1
                            break
                        ni += 1
                if found_end < 0:
                    return None
                end = found_end
        # shrink the match by matching backwards from its end
        ni = len(needle) - 1
        for i in range(end - 1, start - 1, -1):
            if self.norm(chars[i], amode) == needle[ni]:
                if ni == 0:
                    start = i
                    break
                ni -= 1
        return self.calculate_score(hay, start, end, indices)


def score_paths(query: str, paths: Sequence[str]) -> list[tuple[str, int, list[int]]]:
    """Reference: every matching path with its score and indices, best first then by path."""
    pattern = Pattern(query)
    out = []
    for path in paths:
        found = pattern.indices(path)
        if found is not None:
            out.append((path, found[0], found[1]))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out


# -- tables (Unicode 15 simple case folding; nucleo 0.3.1's effective latin normalisation) ------
_CASE_FOLD_PAIRS = (
    "AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz\u00b5\u03bc\u00c0\u00e0\u00c1\u00e1\u00c2\u00e2"
    "\u00c3\u00e3\u00c4\u00e4\u00c5\u00e5\u00c6\u00e6\u00c7\u00e7\u00c8\u00e8\u00c9\u00e9\u00ca\u00ea"
    "\u00cb\u00eb\u00cc\u00ec\u00cd\u00ed\u00ce\u00ee\u00cf\u00ef\u00d0\u00f0\u00d1\u00f1\u00d2\u00f2"
    "\u00d3\u00f3\u00d4\u00f4\u00d5\u00f5\u00d6\u00f6\u00d8\u00f8\u00d9\u00f9\u00da\u00fa\u00db\u00fb"
    "\u00dc\u00fc\u00dd\u00fd\u00de\u00fe\u0100\u0101\u0102\u0103\u0104\u0105\u0106\u0107\u0108\u0109"
    "\u010a\u010b\u010c\u010d\u010e\u010f\u0110\u0111\u0112\u0113\u0114\u0115\u0116\u0117\u0118\u0119"
    "\u011a\u011b\u011c\u011d\u011e\u011f\u0120\u0121\u0122\u0123\u0124\u0125\u0126\u0127\u0128\u0129"
    "\u012a\u012b\u012c\u012d\u012e\u012f\u0132\u0133\u0134\u0135\u0136\u0137\u0139\u013a\u013b\u013c"
    "\u013d\u013e\u013f\u0140\u0141\u0142\u0143\u0144\u0145\u0146\u0147\u0148\u014a\u014b\u014c\u014d"
    "\u014e\u014f\u0150\u0151\u0152\u0153\u0154\u0155\u0156\u0157\u0158\u0159\u015a\u015b\u015c\u015d"
    "\u015e\u015f\u0160\u0161\u0162\u0163\u0164\u0165\u0166\u0167\u0168\u0169\u016a\u016b\u016c\u016d"
    "\u016e\u016f\u0170\u0171\u0172\u0173\u0174\u0175\u0176\u0177\u0178\u00ff\u0179\u017a\u017b\u017c"
    "\u017d\u017e\u017fs\u0181\u0253\u0182\u0183\u0184\u0185\u0186\u0254\u0187\u0188\u0189\u0256"
    "\u018a\u0257\u018b\u018c\u018e\u01dd\u018f\u0259\u0190\u025b\u0191\u0192\u0193\u0260\u0194\u0263"
    "\u0196\u0269\u0197\u0268\u0198\u0199\u019c\u026f\u019d\u0272\u019f\u0275\u01a0\u01a1\u01a2\u01a3"
    "\u01a4\u01a5\u01a6\u0280\u01a7\u01a8\u01a9\u0283\u01ac\u01ad\u01ae\u0288\u01af\u01b0\u01b1\u028a"
    "\u01b2\u028b\u01b3\u01b4\u01b5\u01b6\u01b7\u0292\u01b8\u01b9\u01bc\u01bd\u01c4\u01c6\u01c5\u01c6"
    "\u01c7\u01c9\u01c8\u01c9\u01ca\u01cc\u01cb\u01cc\u01cd\u01ce\u01cf\u01d0\u01d1\u01d2\u01d3\u01d4"
    "\u01d5\u01d6\u01d7\u01d8\u01d9\u01da\u01db\u01dc\u01de\u01df\u01e0\u01e1\u01e2\u01e3\u01e4\u01e5"
    "\u01e6\u01e7\u01e8\u01e9\u01ea\u01eb\u01ec\u01ed\u01ee\u01ef\u01f1\u01f3\u01f2\u01f3\u01f4\u01f5"
    "\u01f6\u0195\u01f7\u01bf\u01f8\u01f9\u01fa\u01fb\u01fc\u01fd\u01fe\u01ff\u0200\u0201\u0202\u0203"
    "\u0204\u0205\u0206\u0207\u0208\u0209\u020a\u020b\u020c\u020d\u020e\u020f\u0210\u0211\u0212\u0213"
    "\u0214\u0215\u0216\u0217\u0218\u0219\u021a\u021b\u021c\u021d\u021e\u021f\u0220\u019e\u0222\u0223"
    "\u0224\u0225\u0226\u0227\u0228\u0229\u022a\u022b\u022c\u022d\u022e\u022f\u0230\u0231\u0232\u0233"
    "\u023a\u2c65\u023b\u023c\u023d\u019a\u023e\u2c66\u0241\u0242\u0243\u0180\u0244\u0289\u0245\u028c"
    "\u0246\u0247\u0248\u0249\u024a\u024b\u024c\u024d\u024e\u024f\u0370\u0371\u0372\u0373\u0376\u0377"
    "\u037f\u03f3\u0386\u03ac\u0388\u03ad\u0389\u03ae\u038a\u03af\u038c\u03cc\u038e\u03cd\u038f\u03ce"
    "\u0391\u03b1\u0392\u03b2\u0393\u03b3\u0394\u03b4\u0395\u03b5\u0396\u03b6\u0397\u03b7\u0398\u03b8"
    "\u0399\u03b9\u039a\u03ba\u039b\u03bb\u039c\u03bc\u039d\u03bd\u039e\u03be\u039f\u03bf\u03a0\u03c0"
    "\u03a1\u03c1\u03a3\u03c3\u03a4\u03c4\u03a5\u03c5\u03a6\u03c6\u03a7\u03c7\u03a8\u03c8\u03a9\u03c9"
    "\u03aa\u03ca\u03ab\u03cb\u03c2\u03c3\u03cf\u03d7\u03d0\u03b2\u03d1\u03b8\u03d5\u03c6\u03d6\u03c0"
    "\u03d8\u03d9\u03da\u03db\u03dc\u03dd\u03de\u03df\u03e0\u03e1\u03e2\u03e3\u03e4\u03e5\u03e6\u03e7"
    "\u03e8\u03e9\u03ea\u03eb\u03ec\u03ed\u03ee\u03ef\u03f0\u03ba\u03f1\u03c1\u03f4\u03b8\u03f5\u03b5"
    "\u03f7\u03f8\u03f9\u03f2\u03fa\u03fb\u03fd\u037b\u03fe\u037c\u03ff\u037d\u0400\u0450\u0401\u0451"
    "\u0402\u0452\u0403\u0453\u0404\u0454\u0405\u0455\u0406\u0456\u0407\u0457\u0408\u0458\u0409\u0459"
    "\u040a\u045a\u040b\u045b\u040c\u045c\u040d\u045d\u040e\u045e\u040f\u045f\u0410\u0430\u0411\u0431"
    "\u0412\u0432\u0413\u0433\u0414\u0434\u0415\u0435\u0416\u0436\u0417\u0437\u0418\u0438\u0419\u0439"
    "\u041a\u043a\u041b\u043b\u041c\u043c\u041d\u043d\u041e\u043e\u041f\u043f\u0420\u0440\u0421\u0441"
    "\u0422\u0442\u0423\u0443\u0424\u0444\u0425\u0445\u0426\u0446\u0427\u0447\u0428\u0448\u0429\u0449"
    "\u042a\u044a\u042b\u044b\u042c\u044c\u042d\u044d\u042e\u044e\u042f\u044f\u0460\u0461\u0462\u0463"
    "\u0464\u0465\u0466\u0467\u0468\u0469\u046a\u046b\u046c\u046d\u046e\u046f\u0470\u0471\u0472\u0473"
    "\u0474\u0475\u0476\u0477\u0478\u0479\u047a\u047b\u047c\u047d\u047e\u047f\u0480\u0481\u048a\u048b"
    "\u048c\u048d\u048e\u048f\u0490\u0491\u0492\u0493\u0494\u0495\u0496\u0497\u0498\u0499\u049a\u049b"
    "\u049c\u049d\u049e\u049f\u04a0\u04a1\u04a2\u04a3\u04a4\u04a5\u04a6\u04a7\u04a8\u04a9\u04aa\u04ab"
    "\u04ac\u04ad\u04ae\u04af\u04b0\u04b1\u04b2\u04b3\u04b4\u04b5\u04b6\u04b7\u04b8\u04b9\u04ba\u04bb"
    "\u04bc\u04bd\u04be\u04bf\u04c0\u04cf\u04c1\u04c2\u04c3\u04c4\u04c5\u04c6\u04c7\u04c8\u04c9\u04ca"
    "\u04cb\u04cc\u04cd\u04ce\u04d0\u04d1\u04d2\u04d3\u04d4\u04d5\u04d6\u04d7\u04d8\u04d9\u04da\u04db"
    "\u04dc\u04dd\u04de\u04df\u04e0\u04e1\u04e2\u04e3\u04e4\u04e5\u04e6\u04e7\u04e8\u04e9\u04ea\u04eb"
    "\u04ec\u04ed\u04ee\u04ef\u04f0\u04f1\u04f2\u04f3\u04f4\u04f5\u04f6\u04f7\u04f8\u04f9\u04fa\u04fb"
    "\u04fc\u04fd\u04fe\u04ff\u0500\u0501\u0502\u0503\u0504\u0505\u0506\u0507\u0508\u0509\u050a\u050b"
    "\u050c\u050d\u050e\u050f\u0510\u0511\u0512\u0513\u0514\u0515\u0516\u0517\u0518\u0519\u051a\u051b"
    "\u051c\u051d\u051e\u051f\u0520\u0521\u0522\u0523\u0524\u0525\u0526\u0527\u0528\u0529\u052a\u052b"
    "\u052c\u052d\u052e\u052f\u0531\u0561\u0532\u0562\u0533\u0563\u0534\u0564\u0535\u0565\u0536\u0566"
    "\u0537\u0567\u0538\u0568\u0539\u0569\u053a\u056a\u053b\u056b\u053c\u056c\u053d\u056d\u053e\u056e"
    "\u053f\u056f\u0540\u0570\u0541\u0571\u0542\u0572\u0543\u0573\u0544\u0574\u0545\u0575\u0546\u0576"
    "\u0547\u0577\u0548\u0578\u0549\u0579\u054a\u057a\u054b\u057b\u054c\u057c\u054d\u057d\u054e\u057e"
    "\u054f\u057f\u0550\u0580\u0551\u0581\u0552\u0582\u0553\u0583\u0554\u0584\u0555\u0585\u0556\u0586"
    "\u10a0\u2d00\u10a1\u2d01\u10a2\u2d02\u10a3\u2d03\u10a4\u2d04\u10a5\u2d05\u10a6\u2d06\u10a7\u2d07"
    "\u10a8\u2d08\u10a9\u2d09\u10aa\u2d0a\u10ab\u2d0b\u10ac\u2d0c\u10ad\u2d0d\u10ae\u2d0e\u10af\u2d0f"
    "\u10b0\u2d10\u10b1\u2d11\u10b2\u2d12\u10b3\u2d13\u10b4\u2d14\u10b5\u2d15\u10b6\u2d16\u10b7\u2d17"
    "\u10b8\u2d18\u10b9\u2d19\u10ba\u2d1a\u10bb\u2d1b\u10bc\u2d1c\u10bd\u2d1d\u10be\u2d1e\u10bf\u2d1f"
    "\u10c0\u2d20\u10c1\u2d21\u10c2\u2d22\u10c3\u2d23\u10c4\u2d24\u10c5\u2d25\u10c7\u2d27\u10cd\u2d2d"
    "\u13f8\u13f0\u13f9\u13f1\u13fa\u13f2\u13fb\u13f3\u13fc\u13f4\u13fd\u13f5\u1c80\u0432\u1c81\u0434"
    "\u1c82\u043e\u1c83\u0441\u1c84\u0442\u1c85\u0442\u1c86\u044a\u1c87\u0463\u1c88\ua64b\u1c90\u10d0"
    "\u1c91\u10d1\u1c92\u10d2\u1c93\u10d3\u1c94\u10d4\u1c95\u10d5\u1c96\u10d6\u1c97\u10d7\u1c98\u10d8"
    "\u1c99\u10d9\u1c9a\u10da\u1c9b\u10db\u1c9c\u10dc\u1c9d\u10dd\u1c9e\u10de\u1c9f\u10df\u1ca0\u10e0"
    "\u1ca1\u10e1\u1ca2\u10e2\u1ca3\u10e3\u1ca4\u10e4\u1ca5\u10e5\u1ca6\u10e6\u1ca7\u10e7\u1ca8\u10e8"
    "\u1ca9\u10e9\u1caa\u10ea\u1cab\u10eb\u1cac\u10ec\u1cad\u10ed\u1cae\u10ee\u1caf\u10ef\u1cb0\u10f0"
    "\u1cb1\u10f1\u1cb2\u10f2\u1cb3\u10f3\u1cb4\u10f4\u1cb5\u10f5\u1cb6\u10f6\u1cb7\u10f7\u1cb8\u10f8"
    "\u1cb9\u10f9\u1cba\u10fa\u1cbd\u10fd\u1cbe\u10fe\u1cbf\u10ff\u1e00\u1e01\u1e02\u1e03\u1e04\u1e05"
    "\u1e06\u1e07\u1e08\u1e09\u1e0a\u1e0b\u1e0c\u1e0d\u1e0e\u1e0f\u1e10\u1e11\u1e12\u1e13\u1e14\u1e15"
    "\u1e16\u1e17\u1e18\u1e19\u1e1a\u1e1b\u1e1c\u1e1d\u1e1e\u1e1f\u1e20\u1e21\u1e22\u1e23\u1e24\u1e25"
    "\u1e26\u1e27\u1e28\u1e29\u1e2a\u1e2b\u1e2c\u1e2d\u1e2e\u1e2f\u1e30\u1e31\u1e32\u1e33\u1e34\u1e35"
    "\u1e36\u1e37\u1e38\u1e39\u1e3a\u1e3b\u1e3c\u1e3d\u1e3e\u1e3f\u1e40\u1e41\u1e42\u1e43\u1e44\u1e45"
    "\u1e46\u1e47\u1e48\u1e49\u1e4a\u1e4b\u1e4c\u1e4d\u1e4e\u1e4f\u1e50\u1e51\u1e52\u1e53\u1e54\u1e55"
    "\u1e56\u1e57\u1e58\u1e59\u1e5a\u1e5b\u1e5c\u1e5d\u1e5e\u1e5f\u1e60\u1e61\u1e62\u1e63\u1e64\u1e65"
    "\u1e66\u1e67\u1e68\u1e69\u1e6a\u1e6b\u1e6c\u1e6d\u1e6e\u1e6f\u1e70\u1e71\u1e72\u1e73\u1e74\u1e75"
    "\u1e76\u1e77\u1e78\u1e79\u1e7a\u1e7b\u1e7c\u1e7d\u1e7e\u1e7f\u1e80\u1e81\u1e82\u1e83\u1e84\u1e85"
    "\u1e86\u1e87\u1e88\u1e89\u1e8a\u1e8b\u1e8c\u1e8d\u1e8e\u1e8f\u1e90\u1e91\u1e92\u1e93\u1e94\u1e95"
    "\u1e9b\u1e61\u1e9e\u00df\u1ea0\u1ea1\u1ea2\u1ea3\u1ea4\u1ea5\u1ea6\u1ea7\u1ea8\u1ea9\u1eaa\u1eab"
    "\u1eac\u1ead\u1eae\u1eaf\u1eb0\u1eb1\u1eb2\u1eb3\u1eb4\u1eb5\u1eb6\u1eb7\u1eb8\u1eb9\u1eba\u1ebb"
    "\u1ebc\u1ebd\u1ebe\u1ebf\u1ec0\u1ec1\u1ec2\u1ec3\u1ec4\u1ec5\u1ec6\u1ec7\u1ec8\u1ec9\u1eca\u1ecb"
    "\u1ecc\u1ecd\u1ece\u1ecf\u1ed0\u1ed1\u1ed2\u1ed3\u1ed4\u1ed5\u1ed6\u1ed7\u1ed8\u1ed9\u1eda\u1edb"
    "\u1edc\u1edd\u1ede\u1edf\u1ee0\u1ee1\u1ee2\u1ee3\u1ee4\u1ee5\u1ee6\u1ee7\u1ee8\u1ee9\u1eea\u1eeb"
    "\u1eec\u1eed\u1eee\u1eef\u1ef0\u1ef1\u1ef2\u1ef3\u1ef4\u1ef5\u1ef6\u1ef7\u1ef8\u1ef9\u1efa\u1efb"
    "\u1efc\u1efd\u1efe\u1eff\u1f08\u1f00\u1f09\u1f01\u1f0a\u1f02\u1f0b\u1f03\u1f0c\u1f04\u1f0d\u1f05"
    "\u1f0e\u1f06\u1f0f\u1f07\u1f18\u1f10\u1f19\u1f11\u1f1a\u1f12\u1f1b\u1f13\u1f1c\u1f14\u1f1d\u1f15"
    "\u1f28\u1f20\u1f29\u1f21\u1f2a\u1f22\u1f2b\u1f23\u1f2c\u1f24\u1f2d\u1f25\u1f2e\u1f26\u1f2f\u1f27"
    "\u1f38\u1f30\u1f39\u1f31\u1f3a\u1f32\u1f3b\u1f33\u1f3c\u1f34\u1f3d\u1f35\u1f3e\u1f36\u1f3f\u1f37"
    "\u1f48\u1f40\u1f49\u1f41\u1f4a\u1f42\u1f4b\u1f43\u1f4c\u1f44\u1f4d\u1f45\u1f59\u1f51\u1f5b\u1f53"
    "\u1f5d\u1f55\u1f5f\u1f57\u1f68\u1f60\u1f69\u1f61\u1f6a\u1f62\u1f6b\u1f63\u1f6c\u1f64\u1f6d\u1f65"
    "\u1f6e\u1f66\u1f6f\u1f67\u1f88\u1f80\u1f89\u1f81\u1f8a\u1f82\u1f8b\u1f83\u1f8c\u1f84\u1f8d\u1f85"
    "\u1f8e\u1f86\u1f8f\u1f87\u1f98\u1f90\u1f99\u1f91\u1f9a\u1f92\u1f9b\u1f93\u1f9c\u1f94\u1f9d\u1f95"
    "\u1f9e\u1f96\u1f9f\u1f97\u1fa8\u1fa0\u1fa9\u1fa1\u1faa\u1fa2\u1fab\u1fa3\u1fac\u1fa4\u1fad\u1fa5"
    "\u1fae\u1fa6\u1faf\u1fa7\u1fb8\u1fb0\u1fb9\u1fb1\u1fba\u1f70\u1fbb\u1f71\u1fbc\u1fb3\u1fbe\u03b9"
    "\u1fc8\u1f72\u1fc9\u1f73\u1fca\u1f74\u1fcb\u1f75\u1fcc\u1fc3\u1fd8\u1fd0\u1fd9\u1fd1\u1fda\u1f76"
    "\u1fdb\u1f77\u1fe8\u1fe0\u1fe9\u1fe1\u1fea\u1f7a\u1feb\u1f7b\u1fec\u1fe5\u1ff8\u1f78\u1ff9\u1f79"
    "\u1ffa\u1f7c\u1ffb\u1f7d\u1ffc\u1ff3\u2126\u03c9\u212ak\u212b\u00e5\u2132\u214e\u2160\u2170"
    "\u2161\u2171\u2162\u2172\u2163\u2173\u2164\u2174\u2165\u2175\u2166\u2176\u2167\u2177\u2168\u2178"
    "\u2169\u2179\u216a\u217a\u216b\u217b\u216c\u217c\u216d\u217d\u216e\u217e\u216f\u217f\u2183\u2184"
    "\u24b6\u24d0\u24b7\u24d1\u24b8\u24d2\u24b9\u24d3\u24ba\u24d4\u24bb\u24d5\u24bc\u24d6\u24bd\u24d7"
    "\u24be\u24d8\u24bf\u24d9\u24c0\u24da\u24c1\u24db\u24c2\u24dc\u24c3\u24dd\u24c4\u24de\u24c5\u24df"
    "\u24c6\u24e0\u24c7\u24e1\u24c8\u24e2\u24c9\u24e3\u24ca\u24e4\u24cb\u24e5\u24cc\u24e6\u24cd\u24e7"
    "\u24ce\u24e8\u24cf\u24e9\u2c00\u2c30\u2c01\u2c31\u2c02\u2c32\u2c03\u2c33\u2c04\u2c34\u2c05\u2c35"
    "\u2c06\u2c36\u2c07\u2c37\u2c08\u2c38\u2c09\u2c39\u2c0a\u2c3a\u2c0b\u2c3b\u2c0c\u2c3c\u2c0d\u2c3d"
    "\u2c0e\u2c3e\u2c0f\u2c3f\u2c10\u2c40\u2c11\u2c41\u2c12\u2c42\u2c13\u2c43\u2c14\u2c44\u2c15\u2c45"
    "\u2c16\u2c46\u2c17\u2c47\u2c18\u2c48\u2c19\u2c49\u2c1a\u2c4a\u2c1b\u2c4b\u2c1c\u2c4c\u2c1d\u2c4d"
    "\u2c1e\u2c4e\u2c1f\u2c4f\u2c20\u2c50\u2c21\u2c51\u2c22\u2c52\u2c23\u2c53\u2c24\u2c54\u2c25\u2c55"
    "\u2c26\u2c56\u2c27\u2c57\u2c28\u2c58\u2c29\u2c59\u2c2a\u2c5a\u2c2b\u2c5b\u2c2c\u2c5c\u2c2d\u2c5d"
    "\u2c2e\u2c5e\u2c2f\u2c5f\u2c60\u2c61\u2c62\u026b\u2c63\u1d7d\u2c64\u027d\u2c67\u2c68\u2c69\u2c6a"
    "\u2c6b\u2c6c\u2c6d\u0251\u2c6e\u0271\u2c6f\u0250\u2c70\u0252\u2c72\u2c73\u2c75\u2c76\u2c7e\u023f"
    "\u2c7f\u0240\u2c80\u2c81\u2c82\u2c83\u2c84\u2c85\u2c86\u2c87\u2c88\u2c89\u2c8a\u2c8b\u2c8c\u2c8d"
    "\u2c8e\u2c8f\u2c90\u2c91\u2c92\u2c93\u2c94\u2c95\u2c96\u2c97\u2c98\u2c99\u2c9a\u2c9b\u2c9c\u2c9d"
    "\u2c9e\u2c9f\u2ca0\u2ca1\u2ca2\u2ca3\u2ca4\u2ca5\u2ca6\u2ca7\u2ca8\u2ca9\u2caa\u2cab\u2cac\u2cad"
    "\u2cae\u2caf\u2cb0\u2cb1\u2cb2\u2cb3\u2cb4\u2cb5\u2cb6\u2cb7\u2cb8\u2cb9\u2cba\u2cbb\u2cbc\u2cbd"
    "\u2cbe\u2cbf\u2cc0\u2cc1\u2cc2\u2cc3\u2cc4\u2cc5\u2cc6\u2cc7\u2cc8\u2cc9\u2cca\u2ccb\u2ccc\u2ccd"
    "\u2cce\u2ccf\u2cd0\u2cd1\u2cd2\u2cd3\u2cd4\u2cd5\u2cd6\u2cd7\u2cd8\u2cd9\u2cda\u2cdb\u2cdc\u2cdd"
    "\u2cde\u2cdf\u2ce0\u2ce1\u2ce2\u2ce3\u2ceb\u2cec\u2ced\u2cee\u2cf2\u2cf3\ua640\ua641\ua642\ua643"
    "\ua644\ua645\ua646\ua647\ua648\ua649\ua64a\ua64b\ua64c\ua64d\ua64e\ua64f\ua650\ua651\ua652\ua653"
    "\ua654\ua655\ua656\ua657\ua658\ua659\ua65a\ua65b\ua65c\ua65d\ua65e\ua65f\ua660\ua661\ua662\ua663"
    "\ua664\ua665\ua666\ua667\ua668\ua669\ua66a\ua66b\ua66c\ua66d\ua680\ua681\ua682\ua683\ua684\ua685"
    "\ua686\ua687\ua688\ua689\ua68a\ua68b\ua68c\ua68d\ua68e\ua68f\ua690\ua691\ua692\ua693\ua694\ua695"
    "\ua696\ua697\ua698\ua699\ua69a\ua69b\ua722\ua723\ua724\ua725\ua726\ua727\ua728\ua729\ua72a\ua72b"
    "\ua72c\ua72d\ua72e\ua72f\ua732\ua733\ua734\ua735\ua736\ua737\ua738\ua739\ua73a\ua73b\ua73c\ua73d"
    "\ua73e\ua73f\ua740\ua741\ua742\ua743\ua744\ua745\ua746\ua747\ua748\ua749\ua74a\ua74b\ua74c\ua74d"
    "\ua74e\ua74f\ua750\ua751\ua752\ua753\ua754\ua755\ua756\ua757\ua758\ua759\ua75a\ua75b\ua75c\ua75d"
    "\ua75e\ua75f\ua760\ua761\ua762\ua763\ua764\ua765\ua766\ua767\ua768\ua769\ua76a\ua76b\ua76c\ua76d"
    "\ua76e\ua76f\ua779\ua77a\ua77b\ua77c\ua77d\u1d79\ua77e\ua77f\ua780\ua781\ua782\ua783\ua784\ua785"
    "\ua786\ua787\ua78b\ua78c\ua78d\u0265\ua790\ua791\ua792\ua793\ua796\ua797\ua798\ua799\ua79a\ua79b"
    "\ua79c\ua79d\ua79e\ua79f\ua7a0\ua7a1\ua7a2\ua7a3\ua7a4\ua7a5\ua7a6\ua7a7\ua7a8\ua7a9\ua7aa\u0266"
    "\ua7ab\u025c\ua7ac\u0261\ua7ad\u026c\ua7ae\u026a\ua7b0\u029e\ua7b1\u0287\ua7b2\u029d\ua7b3\uab53"
    "\ua7b4\ua7b5\ua7b6\ua7b7\ua7b8\ua7b9\ua7ba\ua7bb\ua7bc\ua7bd\ua7be\ua7bf\ua7c0\ua7c1\ua7c2\ua7c3"
    "\ua7c4\ua794\ua7c5\u0282\ua7c6\u1d8e\ua7c7\ua7c8\ua7c9\ua7ca\ua7d0\ua7d1\ua7d6\ua7d7\ua7d8\ua7d9"
    "\ua7f5\ua7f6\uab70\u13a0\uab71\u13a1\uab72\u13a2\uab73\u13a3\uab74\u13a4\uab75\u13a5\uab76\u13a6"
    "\uab77\u13a7\uab78\u13a8\uab79\u13a9\uab7a\u13aa\uab7b\u13ab\uab7c\u13ac\uab7d\u13ad\uab7e\u13ae"
    "\uab7f\u13af\uab80\u13b0\uab81\u13b1\uab82\u13b2\uab83\u13b3\uab84\u13b4\uab85\u13b5\uab86\u13b6"
    "\uab87\u13b7\uab88\u13b8\uab89\u13b9\uab8a\u13ba\uab8b\u13bb\uab8c\u13bc\uab8d\u13bd\uab8e\u13be"
    "\uab8f\u13bf\uab90\u13c0\uab91\u13c1\uab92\u13c2\uab93\u13c3\uab94\u13c4\uab95\u13c5\uab96\u13c6"
    "\uab97\u13c7\uab98\u13c8\uab99\u13c9\uab9a\u13ca\uab9b\u13cb\uab9c\u13cc\uab9d\u13cd\uab9e\u13ce"
    "\uab9f\u13cf\uaba0\u13d0\uaba1\u13d1\uaba2\u13d2\uaba3\u13d3\uaba4\u13d4\uaba5\u13d5\uaba6\u13d6"
    "\uaba7\u13d7\uaba8\u13d8\uaba9\u13d9\uabaa\u13da\uabab\u13db\uabac\u13dc\uabad\u13dd\uabae\u13de"
    "\uabaf\u13df\uabb0\u13e0\uabb1\u13e1\uabb2\u13e2\uabb3\u13e3\uabb4\u13e4\uabb5\u13e5\uabb6\u13e6"
    "\uabb7\u13e7\uabb8\u13e8\uabb9\u13e9\uabba\u13ea\uabbb\u13eb\uabbc\u13ec\uabbd\u13ed\uabbe\u13ee"
    "\uabbf\u13ef\uff21\uff41\uff22\uff42\uff23\uff43\uff24\uff44\uff25\uff45\uff26\uff46\uff27\uff47"
    "\uff28\uff48\uff29\uff49\uff2a\uff4a\uff2b\uff4b\uff2c\uff4c\uff2d\uff4d\uff2e\uff4e\uff2f\uff4f"
    "\uff30\uff50\uff31\uff51\uff32\uff52\uff33\uff53\uff34\uff54\uff35\uff55\uff36\uff56\uff37\uff57"
    "\uff38\uff58\uff39\uff59\uff3a\uff5a\U00010400\U00010428\U00010401\U00010429\U00010402\U0001042a"
    "\U00010403\U0001042b\U00010404\U0001042c\U00010405\U0001042d\U00010406\U0001042e\U00010407\U0001042f"
    "\U00010408\U00010430\U00010409\U00010431\U0001040a\U00010432\U0001040b\U00010433\U0001040c\U00010434"
    "\U0001040d\U00010435\U0001040e\U00010436\U0001040f\U00010437\U00010410\U00010438\U00010411\U00010439"
    "\U00010412\U0001043a\U00010413\U0001043b\U00010414\U0001043c\U00010415\U0001043d\U00010416\U0001043e"
    "\U00010417\U0001043f\U00010418\U00010440\U00010419\U00010441\U0001041a\U00010442\U0001041b\U00010443"
    "\U0001041c\U00010444\U0001041d\U00010445\U0001041e\U00010446\U0001041f\U00010447\U00010420\U00010448"
    "\U00010421\U00010449\U00010422\U0001044a\U00010423\U0001044b\U00010424\U0001044c\U00010425\U0001044d"
    "\U00010426\U0001044e\U00010427\U0001044f\U000104b0\U000104d8\U000104b1\U000104d9\U000104b2\U000104da"
    "\U000104b3\U000104db\U000104b4\U000104dc\U000104b5\U000104dd\U000104b6\U000104de\U000104b7\U000104df"
    "\U000104b8\U000104e0\U000104b9\U000104e1\U000104ba\U000104e2\U000104bb\U000104e3\U000104bc\U000104e4"
    "\U000104bd\U000104e5\U000104be\U000104e6\U000104bf\U000104e7\U000104c0\U000104e8\U000104c1\U000104e9"
    "\U000104c2\U000104ea\U000104c3\U000104eb\U000104c4\U000104ec\U000104c5\U000104ed\U000104c6\U000104ee"
    "\U000104c7\U000104ef\U000104c8\U000104f0\U000104c9\U000104f1\U000104ca\U000104f2\U000104cb\U000104f3"
    "\U000104cc\U000104f4\U000104cd\U000104f5\U000104ce\U000104f6\U000104cf\U000104f7\U000104d0\U000104f8"
    "\U000104d1\U000104f9\U000104d2\U000104fa\U000104d3\U000104fb\U00010570\U00010597\U00010571\U00010598"
    "\U00010572\U00010599\U00010573\U0001059a\U00010574\U0001059b\U00010575\U0001059c\U00010576\U0001059d"
    "\U00010577\U0001059e\U00010578\U0001059f\U00010579\U000105a0\U0001057a\U000105a1\U0001057c\U000105a3"
    "\U0001057d\U000105a4\U0001057e\U000105a5\U0001057f\U000105a6\U00010580\U000105a7\U00010581\U000105a8"
    "\U00010582\U000105a9\U00010583\U000105aa\U00010584\U000105ab\U00010585\U000105ac\U00010586\U000105ad"
    "\U00010587\U000105ae\U00010588\U000105af\U00010589\U000105b0\U0001058a\U000105b1\U0001058c\U000105b3"
    "\U0001058d\U000105b4\U0001058e\U000105b5\U0001058f\U000105b6\U00010590\U000105b7\U00010591\U000105b8"
    "\U00010592\U000105b9\U00010594\U000105bb\U00010595\U000105bc\U00010c80\U00010cc0\U00010c81\U00010cc1"
    "\U00010c82\U00010cc2\U00010c83\U00010cc3\U00010c84\U00010cc4\U00010c85\U00010cc5\U00010c86\U00010cc6"
    "\U00010c87\U00010cc7\U00010c88\U00010cc8\U00010c89\U00010cc9\U00010c8a\U00010cca\U00010c8b\U00010ccb"
    "\U00010c8c\U00010ccc\U00010c8d\U00010ccd\U00010c8e\U00010cce\U00010c8f\U00010ccf\U00010c90\U00010cd0"
    "\U00010c91\U00010cd1\U00010c92\U00010cd2\U00010c93\U00010cd3\U00010c94\U00010cd4\U00010c95\U00010cd5"
    "\U00010c96\U00010cd6\U00010c97\U00010cd7\U00010c98\U00010cd8\U00010c99\U00010cd9\U00010c9a\U00010cda"
    "\U00010c9b\U00010cdb\U00010c9c\U00010cdc\U00010c9d\U00010cdd\U00010c9e\U00010cde\U00010c9f\U00010cdf"
    "\U00010ca0\U00010ce0\U00010ca1\U00010ce1\U00010ca2\U00010ce2\U00010ca3\U00010ce3\U00010ca4\U00010ce4"
    "\U00010ca5\U00010ce5\U00010ca6\U00010ce6\U00010ca7\U00010ce7\U00010ca8\U00010ce8\U00010ca9\U00010ce9"
    "\U00010caa\U00010cea\U00010cab\U00010ceb\U00010cac\U00010cec\U00010cad\U00010ced\U00010cae\U00010cee"
    "\U00010caf\U00010cef\U00010cb0\U00010cf0\U00010cb1\U00010cf1\U00010cb2\U00010cf2\U000118a0\U000118c0"
    "\U000118a1\U000118c1\U000118a2\U000118c2\U000118a3\U000118c3\U000118a4\U000118c4\U000118a5\U000118c5"
    "\U000118a6\U000118c6\U000118a7\U000118c7\U000118a8\U000118c8\U000118a9\U000118c9\U000118aa\U000118ca"
    "\U000118ab\U000118cb\U000118ac\U000118cc\U000118ad\U000118cd\U000118ae\U000118ce\U000118af\U000118cf"
    "\U000118b0\U000118d0\U000118b1\U000118d1\U000118b2\U000118d2\U000118b3\U000118d3\U000118b4\U000118d4"
    "\U000118b5\U000118d5\U000118b6\U000118d6\U000118b7\U000118d7\U000118b8\U000118d8\U000118b9\U000118d9"
    "\U000118ba\U000118da\U000118bb\U000118db\U000118bc\U000118dc\U000118bd\U000118dd\U000118be\U000118de"
    "\U000118bf\U000118df\U00016e40\U00016e60\U00016e41\U00016e61\U00016e42\U00016e62\U00016e43\U00016e63"
    "\U00016e44\U00016e64\U00016e45\U00016e65\U00016e46\U00016e66\U00016e47\U00016e67\U00016e48\U00016e68"
    "\U00016e49\U00016e69\U00016e4a\U00016e6a\U00016e4b\U00016e6b\U00016e4c\U00016e6c\U00016e4d\U00016e6d"
    "\U00016e4e\U00016e6e\U00016e4f\U00016e6f\U00016e50\U00016e70\U00016e51\U00016e71\U00016e52\U00016e72"
    "\U00016e53\U00016e73\U00016e54\U00016e74\U00016e55\U00016e75\U00016e56\U00016e76\U00016e57\U00016e77"
    "\U00016e58\U00016e78\U00016e59\U00016e79\U00016e5a\U00016e7a\U00016e5b\U00016e7b\U00016e5c\U00016e7c"
    "\U00016e5d\U00016e7d\U00016e5e\U00016e7e\U00016e5f\U00016e7f\U0001e900\U0001e922\U0001e901\U0001e923"
    "\U0001e902\U0001e924\U0001e903\U0001e925\U0001e904\U0001e926\U0001e905\U0001e927\U0001e906\U0001e928"
    "\U0001e907\U0001e929\U0001e908\U0001e92a\U0001e909\U0001e92b\U0001e90a\U0001e92c\U0001e90b\U0001e92d"
    "\U0001e90c\U0001e92e\U0001e90d\U0001e92f\U0001e90e\U0001e930\U0001e90f\U0001e931\U0001e910\U0001e932"
    "\U0001e911\U0001e933\U0001e912\U0001e934\U0001e913\U0001e935\U0001e914\U0001e936\U0001e915\U0001e937"
    "\U0001e916\U0001e938\U0001e917\U0001e939\U0001e918\U0001e93a\U0001e919\U0001e93b\U0001e91a\U0001e93c"
    "\U0001e91b\U0001e93d\U0001e91c\U0001e93e\U0001e91d\U0001e93f\U0001e91e\U0001e940\U0001e91f\U0001e941"
    "\U0001e920\U0001e942\U0001e921\U0001e943"
)
_NORMALIZE_PAIRS = (
    "\u00c0A\u00c1A\u00c2A\u00c3A\u00c4A\u00c5A\u00c7C\u00c8E\u00c9E\u00caE\u00cbE\u00ccI\u00cdI\u00ceI"
    "\u00cfI\u00d1N\u00d2O\u00d3O\u00d4O\u00d5O\u00d6O\u00d8O\u00d9U\u00daU\u00dbU\u00dcU\u00ddY\u00dfs"
    "\u00e0a\u00e1a\u00e2a\u00e3a\u00e4a\u00e5a\u00e7c\u00e8e\u00e9e\u00eae\u00ebe\u00eci\u00edi\u00eei"
    "\u00efi\u00f1n\u00f2o\u00f3o\u00f4o\u00f5o\u00f6o\u00f8o\u00f9u\u00fau\u00fbu\u00fcu\u00fdy\u00ffy"
    "\u0101a\u0103a\u0105a\u0107c\u0109c\u010bc\u010dc\u010fd\u0111d\u0113e\u0115e\u0117e\u0119e\u011be"
    "\u011dg\u011fg\u0121g\u0123g\u0125h\u0127h\u0129i\u012bi\u012di\u012fi\u0130I\u0131i\u0135j\u0137k"
    "\u013al\u013cl\u013el\u0140l\u0142l\u0144n\u0146n\u0148n\u014do\u014fo\u0151o\u0155r\u0157r\u0159r"
    "\u015bs\u015ds\u015fs\u0161s\u0163t\u0165t\u0167t\u0169u\u016bu\u016du\u016fu\u0171u\u0173u\u0175w"
    "\u0177y\u0178Y\u017az\u017cz\u017ez\u017fs\u0180b\u0181B\u0183b\u0186O\u0188c\u0189D\u018aD\u018cd"
    "\u018eE\u0190E\u0192f\u0193G\u0197I\u0199k\u019al\u019cM\u019dN\u019en\u019fO\u01a1o\u01a5p\u01abt"
    "\u01adt\u01aeT\u01b0u\u01b2V\u01b4y\u01b6z\u01cea\u01d0i\u01d2o\u01d4u\u01dde\u01e5g\u01e7g\u01e9k"
    "\u01ebo\u01f0j\u01f5g\u01f9n\u0201a\u0203a\u0205e\u0207e\u0209i\u020bi\u020do\u020fo\u0211r\u0213r"
    "\u0215u\u0217u\u0219s\u021bt\u021fh\u0220N\u0221d\u0225z\u0227a\u0229e\u022fo\u0233y\u0234l\u0235n"
    "\u0236t\u0237j\u023aA\u023bC\u023cc\u023dL\u023eT\u023fs\u0240z\u0243B\u0244U\u0245V\u0246E\u0247e"
    "\u0248J\u0249j\u024aQ\u024bq\u024cR\u024dr\u024eY\u024fy\u0250a\u0251a\u0253b\u0254o\u0255c\u0256d"
    "\u0257d\u0258e\u025be\u025ce\u025de\u025ee\u025fj\u0260g\u0261g\u0262G\u0265h\u0266h\u0268i\u026aI"
    "\u026bl\u026cl\u026dl\u026fm\u0270m\u0271m\u0272n\u0273n\u0274N\u0275o\u0279r\u027ar\u027br\u027cr"
    "\u027dr\u027er\u027fr\u0280R\u0281R\u0282s\u0287t\u0288t\u0289u\u028bv\u028cv\u028dw\u028ey\u028fY"
    "\u0290z\u0291z\u0297c\u0299B\u029ae\u029bG\u029cH\u029dj\u029ek\u029fL\u02a0q\u02aeh\u0363a\u0364e"
    "\u0365i\u0366o\u0367u\u0368c\u0369d\u036ah\u036bm\u036cr\u036dt\u036ev\u036fx\u1d00A\u1d03A\u1d04A"
    "\u1d05A\u1d07A\u1d08A\u1d09C\u1d0aE\u1d0bE\u1d0cE\u1d0dE\u1d0eI\u1d0fI\u1d10I\u1d11I\u1d12N\u1d13O"
    "\u1d16O\u1d17O\u1d18O\u1d19O\u1d1aO\u1d1bU\u1d1cU\u1d1dU\u1d1eU\u1d1fY\u1d20s\u1d21a\u1d22a\u1d62a"
    "\u1d63a\u1d64a\u1d65a\u1e01c\u1e03e\u1e05e\u1e07e\u1e0be\u1e0di\u1e0fi\u1e11i\u1e13i\u1e19n\u1e1bo"
    "\u1e1fo\u1e21o\u1e23o\u1e25o\u1e27o\u1e29u\u1e2bu\u1e2du\u1e31u\u1e33y\u1e35y\u1e37a\u1e3da\u1e3fa"
    "\u1e41c\u1e43c\u1e45c\u1e47c\u1e49d\u1e4bd\u1e55e\u1e57e\u1e5be\u1e5fe\u1e61e\u1e63g\u1e6bg\u1e6dg"
    "\u1e6fg\u1e71h\u1e73h\u1e75i\u1e7di\u1e7fi\u1e81i\u1e83I\u1e85i\u1e89j\u1e8bk\u1e8dl\u1e8fl\u1e91l"
    "\u1e95l\u1e96l\u1e97n\u1e98n\u1e99n\u1e9ao\u1e9bo\u1ea1o\u1ea3r\u1eb9r\u1ebdr\u1ec9s\u1ecbs\u1ecds"
    "\u1ecfs\u1ee5t\u1ee7t\u1ef3t\u1ef5u\u1ef7u\u1ea4u\u1ea5u\u1ea6u\u1ea7u\u1ea8w\u1ea9y\u1eaaY\u1eabz"
    "\u1eacz\u1eadz\u1eaes\u1eafb\u1eb0B\u1eb1b\u1eb2O\u1eb3c\u1eb4D\u1eb5D\u1eb6d\u1eb7E\u1ebeE\u1ebff"
    "\u1ec0G\u1ec1I\u1ec2k\u1ec3l\u1ec4M\u1ec5N\u1ec6n\u1ec7O\u1ed0o\u1ed1p\u1ed2t\u1ed3t\u1ed4T\u1ed5u"
    "\u1ed6V\u1ed7y\u1ed8z\u1ed9a\u1edai\u1edbo\u1edcu\u1edde\u1edeg\u1edfg\u1ee0k\u1ee1o\u1ee2j\u1ee3g"
    "\u1ee8n\u1ee9a\u1eeaa\u1eebe\u1eece\u1eedi\u1eeei\u1eefo\u1ef0o\u1ef1r\u2071A\u2095A\u2096A\u2097A"
    "\u2098A\u209aA\u209bC\u209cE\u2184E"
)


def _pairs(table: str) -> dict[str, str]:
    return {table[i]: table[i + 1] for i in range(0, len(table), 2)}


CASE_FOLD = _pairs(_CASE_FOLD_PAIRS)
NORMALIZE = _pairs(_NORMALIZE_PAIRS)


# -- upper bounds, for the search's pruning ------------------------------------------------------

# `bytes.translate` tables: a byte to its class, and (previous class << 3 | class) to a bonus code
# (BONUS_CODE + bonus). With them the search writes every path's bonuses at C speed.
CLASS_TABLE = bytes(_BYTE_CLASS)
BONUS_CODE = 0x80
BONUS_CODE_TABLE = bytes(BONUS_CODE + _BONUS[v >> 3][v & 7] if (v >> 3) < 7 and (v & 7) < 7 else 0 for v in range(256))


_PREVIOUS = {False: [c for c in range(7) if c != WHITESPACE], True: list(range(7))}


# What is known about characters k-1 and k of an atom in a path: None (nothing), True (they occur
# next to each other somewhere), or (g, final): they never do, and at least g characters lie
# between any occurrence of the one and a later one of the other (final: exactly g somewhere).
PairFact = bool | tuple[int, bool] | None


class AtomBound:
    """Upper bounds on an ASCII atom's score on ASCII paths, from facts that are cheap to test.

    The facts: `b0`, the best bonus of any occurrence of the first character; `pairs[k-1]`, a
    PairFact about characters k-1 and k; `must_gap`, the atom does not occur as one contiguous
    run; `ws`, the path holds whitespace. A matched character earns 16 plus its bonus (the first
    one twice); inside a run it earns at most the best of its own bonus and the run's boundary
    bonus (and 4); after a gap of g characters it earns only its own bonus, less 3 + (g - 1).
    Clamping a score at 0 after a long gap only drops earned points, so the bound holds for the
    optimal, greedy and exact matchers alike.
    """

    __slots__ = ("_cache", "cons", "first_cap", "n", "own")

    def __init__(self, atom: Atom) -> None:
        needle = atom.needle
        self.n = n = len(needle)
        classes = [
            {_BYTE_CLASS[ord(c)], _BYTE_CLASS[ord(c.upper())]} if atom.ignore_case else {_BYTE_CLASS[ord(c)]}
            for c in needle
        ]
        self.first_cap = max(_BONUS[p][k] for p in range(7) for k in classes[0])
        # the best bonus of character k right after character k-1, over the cases a path may use
        self.cons = [0] + [max(_BONUS[p][k] for p in classes[i - 1] for k in classes[i]) for i in range(1, n)]
        # the best bonus of character k after anything (whitespace only where the path has some)
        self.own = {
            ws: [0] + [max(_BONUS[p][k] for p in _PREVIOUS[ws] for k in classes[i]) for i in range(1, n)]
            for ws in (False, True)
        }
        self._cache: dict[tuple[int, tuple[PairFact, ...], bool, bool], int] = {}

    def bound(self, b0: int, pairs: tuple[PairFact, ...], must_gap: bool, ws: bool) -> int:
        key = (b0, pairs, must_gap, ws)
        found = self._cache.get(key)
        if found is not None:
            return found
        own = self.own[ws]
        # best gain so far by (boundary bonus of the current run, whether a gap was taken)
        states: dict[tuple[int, bool], int] = {(b0, False): 0}
        for k in range(1, self.n):
            fact = pairs[k - 1]
            apart = fact is not None and fact is not True
            penalty = PENALTY_GAP_START + (fact[0] - 1) * PENALTY_GAP_EXTENSION if apart else PENALTY_GAP_START  # type: ignore[index]
            nxt: dict[tuple[int, bool], int] = {}
            for (run, gapped), gain in states.items():
                if not apart:
                    b = self.cons[k]
                    step = max(b, run, BONUS_CONSECUTIVE)
                    state = (b if b >= BONUS_BOUNDARY and b > run else run, gapped)
                    if nxt.get(state, -1 << 30) < gain + step:
                        nxt[state] = gain + step
                state = (own[k], True)
                if nxt.get(state, -1 << 30) < gain + own[k] - penalty:
                    nxt[state] = gain + own[k] - penalty
            states = nxt
        best = max((g for (_run, gapped), g in states.items() if gapped or not must_gap), default=None)
        if best is None:  # a one-character atom cannot have a gap
            best = 0
        found = SCORE_MATCH * self.n + BONUS_FIRST_CHAR_MULTIPLIER * b0 + best
        self._cache[key] = found
        return found


# -- the fast path ------------------------------------------------------------------------------


def score_ascii(atom: Atom, path: str, key: str) -> int | None:
    """`Pattern`'s score for one ASCII atom on an ASCII path, computed over occurrences only.

    `key` is the path lower-cased when the atom ignores case (else the path). The result equals
    the reference (`_Matcher.fuzzy`) whenever the optimal matcher runs; the rare shapes nucleo
    routes elsewhere (equal lengths, a matrix too large for its slab) go to the reference.
    """
    needle = atom.needle
    n, m = len(needle), len(path)
    if n > m:
        return None
    if n == 1:
        return _score_one(needle, path, key)
    start = key.find(needle[0], 0, m - n + 1)
    if start < 0:
        return None
    rows = [start]
    pos = start
    for c in needle[1:]:
        pos = key.find(c, pos + 1)
        if pos < 0:
            return None
        rows.append(pos)
    greedy_end = pos + 1
    last = key.rfind(needle[-1], greedy_end)
    end = last + 1 if last >= 0 else greedy_end
    if n == m or n == end - start or (end - start) * n > 4096:
        return _Matcher(atom).fuzzy(Haystack(path), None)
    classes = _BYTE_CLASS
    bonus_table = _BONUS

    def bonus_at(j: int) -> int:
        return bonus_table[classes[ord(path[j - 1])] if j else INITIAL_CLASS][classes[ord(path[j])]]

    # row 0: every occurrence of the first char within its row
    limit = end - n  # last column of row 0 (absolute)
    cols: list[int] = []
    scores: list[int] = []
    conses: list[int] = []
    j = start
    while 0 <= j <= limit:
        b = bonus_at(j)
        cols.append(j)
        scores.append(SCORE_MATCH + b * BONUS_FIRST_CHAR_MULTIPLIER)
        conses.append(b)
        j = key.find(needle[0], j + 1, limit + 1)
    for k in range(1, n):
        c = needle[k]
        limit = end - n + k
        new_cols: list[int] = []
        new_scores: list[int] = []
        new_conses: list[int] = []
        prev_i = 0
        best_reach = -1  # max over earlier-row occurrences i <= j - 2 of score_i + i
        prev_len = len(cols)
        j = key.find(c, rows[k], limit + 1)
        while j >= 0:
            while prev_i < prev_len and cols[prev_i] <= j - 2:
                reach = scores[prev_i] + cols[prev_i]
                if reach > best_reach:
                    best_reach = reach
                prev_i += 1
            gap = best_reach - PENALTY_GAP_START - (j - 2) if best_reach >= 0 else 0
            if gap < 0:
                gap = 0
            b = bonus_at(j)
            # the previous row's cell just before j (consecutive match)
            t = prev_i
            if t < prev_len and cols[t] == j - 1:
                cons = conses[t] if conses[t] > BONUS_CONSECUTIVE else BONUS_CONSECUTIVE
                if b >= BONUS_BOUNDARY and b > cons:
                    cons = b
                take = scores[t] + (cons if cons > b else b)
                skip = gap + b
                if take > skip:
                    new_cols.append(j)
                    new_scores.append(take + SCORE_MATCH)
                    new_conses.append(cons)
                else:
                    new_cols.append(j)
                    new_scores.append(skip + SCORE_MATCH)
                    new_conses.append(b)
            else:
                new_cols.append(j)
                new_scores.append(gap + b + SCORE_MATCH)
                new_conses.append(b)
            j = key.find(c, j + 1, limit + 1)
        cols, scores, conses = new_cols, new_scores, new_conses
    return max(scores) if scores else None


def _score_one(c: str, path: str, key: str) -> int | None:
    best = 0
    j = key.find(c)
    classes = _BYTE_CLASS
    while j >= 0:
        prev = classes[ord(path[j - 1])] if j else INITIAL_CLASS
        bonus = _BONUS[prev][classes[ord(path[j])]]
        score = bonus * BONUS_FIRST_CHAR_MULTIPLIER + SCORE_MATCH
        if score > best:
            best = score
            if bonus >= BONUS_BOUNDARY_WHITE:
                break
        j = key.find(c, j + 1)
    return best or None
