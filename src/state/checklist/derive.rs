//! The model of a checklist just edited in place, derived from the model before the edit
//! instead of parsing the whole new text: the edited mappings are parsed again on their own
//! and every position after them moves by the bytes and lines they grew or shrank.
//!
//! It must give exactly what a full parse of the new text gives, so it is conservative:
//! whatever it cannot place with certainty (a position of an untouched mapping that reaches
//! into an edited segment, a position in a re-parsed segment that reaches its end, where a
//! parse of the whole file could place an empty value differently) makes it give up, and
//! the caller parses the whole text. Pure: text and models in, model out.

use super::edit::{EditedSegment, Target};
use super::{Checklist, FieldSpan, Position, Summary, Task, UnknownKey, parse};

/// How one edited segment moved what follows it.
struct Move {
    old_start: usize,
    old_end: usize,
    /// Lines `first_line..end_line` (1-based) of the old text belong to the segment.
    first_line: usize,
    end_line: usize,
    /// Growth of this and every earlier segment, in bytes and lines.
    bytes: isize,
    lines: isize,
}

/// The model of `new_text`, given the model of `old_text` and the segments the edit
/// changed (in file order); `None` when it cannot be derived with certainty.
pub(crate) fn after_edit(
    mut checklist: Checklist,
    old_text: &str,
    new_text: &str,
    segments: &[EditedSegment],
) -> Option<Checklist> {
    let mut moves: Vec<Move> = Vec::with_capacity(segments.len());
    let mut tasks: Vec<(usize, Task)> = Vec::new();
    let mut summary: Option<(Summary, Position)> = None;
    let (mut bytes, mut lines) = (0isize, 0isize);
    for segment in segments {
        if moves
            .last()
            .is_some_and(|last| last.old_end > segment.old.start)
        {
            return None;
        }
        let old = old_text.get(segment.old.clone())?;
        let new = new_text.get(segment.new.clone())?;
        let first_line = match segment.target {
            Target::Task(index) => checklist.tasks.get(index)?.pos.line,
            Target::Summary => checklist.summary_key?.line,
        };
        let old_lines = count_lines(old);
        let new_lines = count_lines(new);
        // Where the segment starts in the new text: after the growth of earlier segments.
        let shift = Shift {
            bytes: segment.new.start as isize,
            lines: first_line as isize + lines - 1,
        };
        let inside = |position: Position| position.offset + position.len < new.len();
        match segment.target {
            Target::Task(index) => {
                let mut task = parse::parse_task_item(new).ok()?;
                let old_task = &checklist.tasks[index];
                if task.task_id != old_task.task_id || !task_positions(&task).all(inside) {
                    return None;
                }
                shift.task(&mut task);
                for unknown in &mut task.unknown_keys {
                    unknown.task_index = Some(index);
                }
                tasks.push((index, task));
            }
            Target::Summary => {
                let document = parse::parse(new).ok()?;
                let key = document.summary_key?;
                let alone = document.version.is_none()
                    && document.instructions.is_none()
                    && document.guidelines.is_empty()
                    && document.tasks_key.is_none()
                    && document.unknown_keys.is_empty();
                let mut new_summary = document.summary;
                if !alone || !summary_positions(&new_summary).all(inside) || !inside(key) {
                    return None;
                }
                shift.summary(&mut new_summary);
                summary = Some((new_summary, shift.apply(key)));
            }
        }
        bytes += new.len() as isize - old.len() as isize;
        lines += new_lines as isize - old_lines as isize;
        moves.push(Move {
            old_start: segment.old.start,
            old_end: segment.old.end,
            first_line,
            end_line: first_line + old_lines,
            bytes,
            lines,
        });
    }

    let replaced_task = |index: usize| tasks.iter().any(|(i, _)| *i == index);
    // Check first, then move: a give-up must not leave a half-moved model behind (the
    // caller drops it anyway, but the checks read clearer on the untouched model).
    let untouched_summary = summary.is_none().then_some(&checklist.summary);
    let untouched_positions = checklist
        .tasks_key
        .into_iter()
        .chain(untouched_summary.and(checklist.summary_key))
        .chain(untouched_summary.into_iter().flat_map(summary_positions))
        .chain(
            checklist
                .tasks
                .iter()
                .enumerate()
                .filter(|(index, _)| !replaced_task(*index))
                .flat_map(|(_, task)| task_positions(task)),
        );
    if untouched_positions
        .map(|position| move_of(&moves, &position))
        .any(|moved| moved.is_none())
    {
        return None;
    }
    let untouched_keys = checklist
        .unknown_keys
        .iter()
        .chain(
            untouched_summary
                .into_iter()
                .flat_map(|summary| &summary.unknown_keys),
        )
        .chain(
            checklist
                .tasks
                .iter()
                .enumerate()
                .filter(|(index, _)| !replaced_task(*index))
                .flat_map(|(_, task)| &task.unknown_keys),
        );
    if untouched_keys
        .map(|key| lines_moved(&moves, key.line))
        .any(|moved| moved.is_none())
    {
        return None;
    }

    let place = |position: &mut Position| {
        if let Some(shift) = move_of(&moves, position) {
            *position = shift.apply(*position);
        }
    };
    let place_key = |key: &mut UnknownKey| {
        if let Some(moved) = lines_moved(&moves, key.line) {
            key.line = (key.line as isize + moved) as usize;
        }
    };
    if let Some(position) = &mut checklist.tasks_key {
        place(position);
    }
    checklist.unknown_keys.iter_mut().for_each(place_key);
    match summary {
        Some((new_summary, key)) => {
            checklist.summary = new_summary;
            checklist.summary_key = Some(key);
        }
        None => {
            if let Some(position) = &mut checklist.summary_key {
                place(position);
            }
            if let Some(position) = &mut checklist.summary.value_pos {
                place(position);
            }
            checklist
                .summary
                .fields
                .iter_mut()
                .for_each(|field| place_field(field, &place));
            checklist
                .summary
                .unknown_keys
                .iter_mut()
                .for_each(place_key);
        }
    }
    let mut replacements = tasks.into_iter().peekable();
    for (index, task) in checklist.tasks.iter_mut().enumerate() {
        if replacements.peek().is_some_and(|(i, _)| *i == index) {
            if let Some((_, new_task)) = replacements.next() {
                *task = new_task;
            }
            continue;
        }
        place(&mut task.pos);
        task.fields
            .iter_mut()
            .for_each(|field| place_field(field, &place));
        task.unknown_keys.iter_mut().for_each(place_key);
    }
    Some(checklist)
}

/// A translation of positions: bytes and lines to add.
#[derive(Clone, Copy)]
struct Shift {
    bytes: isize,
    lines: isize,
}

impl Shift {
    fn apply(self, position: Position) -> Position {
        Position {
            offset: (position.offset as isize + self.bytes) as usize,
            line: (position.line as isize + self.lines) as usize,
            ..position
        }
    }

    fn task(self, task: &mut Task) {
        task.pos = self.apply(task.pos);
        for field in &mut task.fields {
            place_field(field, &|position: &mut Position| {
                *position = self.apply(*position)
            });
        }
        for unknown in &mut task.unknown_keys {
            unknown.line = (unknown.line as isize + self.lines) as usize;
        }
    }

    fn summary(self, summary: &mut Summary) {
        if let Some(position) = &mut summary.value_pos {
            *position = self.apply(*position);
        }
        for field in &mut summary.fields {
            place_field(field, &|position: &mut Position| {
                *position = self.apply(*position)
            });
        }
        for unknown in &mut summary.unknown_keys {
            unknown.line = (unknown.line as isize + self.lines) as usize;
        }
    }
}

fn place_field(field: &mut FieldSpan, place: &dyn Fn(&mut Position)) {
    place(&mut field.key_pos);
    place(&mut field.value_pos);
}

/// The shift for a position outside every edited segment; `None` when it reaches into one.
fn move_of(moves: &[Move], position: &Position) -> Option<Shift> {
    let start = position.offset;
    let end = position.offset + position.len;
    let mut shift = Shift { bytes: 0, lines: 0 };
    for moved in moves {
        if start >= moved.old_end {
            shift = Shift {
                bytes: moved.bytes,
                lines: moved.lines,
            };
        } else if end <= moved.old_start && start < moved.old_start {
            break;
        } else {
            return None;
        }
    }
    Some(shift)
}

/// The lines to add to a line outside every edited segment; `None` when it is inside one.
fn lines_moved(moves: &[Move], line: usize) -> Option<isize> {
    let mut lines = 0;
    for moved in moves {
        if line >= moved.end_line {
            lines = moved.lines;
        } else if line < moved.first_line {
            break;
        } else {
            return None;
        }
    }
    Some(lines)
}

fn task_positions(task: &Task) -> impl Iterator<Item = Position> + '_ {
    std::iter::once(task.pos).chain(
        task.fields
            .iter()
            .flat_map(|field| [field.key_pos, field.value_pos]),
    )
}

fn summary_positions(summary: &Summary) -> impl Iterator<Item = Position> + '_ {
    summary.value_pos.into_iter().chain(
        summary
            .fields
            .iter()
            .flat_map(|field| [field.key_pos, field.value_pos]),
    )
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&byte| byte == b'\n').count()
}
