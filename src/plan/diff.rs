//! A small line diff in unified format, enough to show what `plan --dry-run` or
//! `import --dry-run` would change in checklist.yaml.
//!
//! The planner only appends tasks and changes a few values in place, so the changes are a
//! handful of clusters: the diff trims the common head and tail, then runs a plain LCS on
//! the (small) middle when it fits, and falls back to "all removed, all added" when not.

use std::fmt::Write as _;

/// Lines of context around each change.
const CONTEXT: usize = 3;
/// Largest middle (old lines × new lines) compared line by line.
const MAX_CELLS: usize = 4_000_000;

/// The unified diff from `old` to `new`, labelled `a/<name>` and `b/<name>`; empty when
/// they are equal.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = diff_ops(&old_lines, &new_lines);
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    // Group ops into hunks with context.
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut index = 0;
    while index < changed.len() {
        let start = changed[index].saturating_sub(CONTEXT);
        let mut end = changed[index];
        while index + 1 < changed.len() && changed[index + 1] <= end + 2 * CONTEXT + 1 {
            index += 1;
            end = changed[index];
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (mut old_start, mut new_start) = (usize::MAX, usize::MAX);
        let (mut old_count, mut new_count) = (0, 0);
        let mut body = String::new();
        for op in &ops[start..end] {
            match op {
                Op::Same(o, n) => {
                    old_start = old_start.min(*o);
                    new_start = new_start.min(*n);
                    old_count += 1;
                    new_count += 1;
                    push_line(&mut body, ' ', old_lines[*o]);
                }
                Op::Removed(o, n) => {
                    old_start = old_start.min(*o);
                    new_start = new_start.min(*n);
                    old_count += 1;
                    push_line(&mut body, '-', old_lines[*o]);
                }
                Op::Added(o, n) => {
                    old_start = old_start.min(*o);
                    new_start = new_start.min(*n);
                    new_count += 1;
                    push_line(&mut body, '+', new_lines[*n]);
                }
            }
        }
        let show = |start: usize, count: usize| {
            if count == 0 { start } else { start + 1 }
        };
        let _ = writeln!(
            out,
            "@@ -{},{old_count} +{},{new_count} @@",
            show(old_start, old_count),
            show(new_start, new_count)
        );
        out.push_str(&body);
        index += 1;
    }
    out
}

fn push_line(out: &mut String, marker: char, line: &str) {
    out.push(marker);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// One line of the edit script with the old and new line indexes at that point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Removed(usize, usize),
    Added(usize, usize),
}

fn diff_ops(old: &[&str], new: &[&str]) -> Vec<Op> {
    let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_mid = &old[head..old.len() - tail];
    let new_mid = &new[head..new.len() - tail];
    let mut ops: Vec<Op> = (0..head).map(|i| Op::Same(i, i)).collect();
    if old_mid.len().saturating_mul(new_mid.len()) <= MAX_CELLS {
        // LCS table from the end.
        let (n, m) = (old_mid.len(), new_mid.len());
        let mut table = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                table[i * (m + 1) + j] = if old_mid[i] == new_mid[j] {
                    table[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    table[(i + 1) * (m + 1) + j].max(table[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && old_mid[i] == new_mid[j] {
                ops.push(Op::Same(head + i, head + j));
                i += 1;
                j += 1;
            } else if i < n
                && (j == m || table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1])
            {
                ops.push(Op::Removed(head + i, head + j));
                i += 1;
            } else {
                ops.push(Op::Added(head + i, head + j));
                j += 1;
            }
        }
    } else {
        for i in 0..old_mid.len() {
            ops.push(Op::Removed(head + i, head));
        }
        for j in 0..new_mid.len() {
            ops.push(Op::Added(head + old_mid.len(), head + j));
        }
    }
    let old_tail = old.len() - tail;
    let new_tail = new.len() - tail;
    ops.extend((0..tail).map(|k| Op::Same(old_tail + k, new_tail + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_append_is_one_hunk_with_context() {
        let old = "a\nb\nc\nd\ne\n";
        let new = "a\nb\nc\nd\ne\nf\ng\n";
        assert_eq!(
            unified_diff("x.yaml", old, new),
            "--- a/x.yaml\n+++ b/x.yaml\n@@ -3,3 +3,5 @@\n c\n d\n e\n+f\n+g\n"
        );
    }

    #[test]
    fn separate_changes_make_separate_hunks() {
        let old: String = (0..20).map(|i| format!("{i}\n")).collect();
        let new: String = (0..20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                17 => "seventeen\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        let diff = unified_diff("x", &old, &new);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("-2\n+two\n"), "{diff}");
        assert!(diff.contains("@@ -15,6 +15,6 @@"), "{diff}");
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified_diff("x", "a\n", "a\n"), "");
    }
}
