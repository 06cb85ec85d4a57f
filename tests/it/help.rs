use crate::TestEnv;

#[test]
fn top_level_help() {
    let env = TestEnv::bare();
    let run = env.longrun(&["--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn task_set_help() {
    let env = TestEnv::bare();
    let run = env.longrun(&["task", "set", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn unknown_command_is_a_usage_error() {
    let env = TestEnv::bare();
    let run = env.longrun(&["frobnicate"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn claim_help() {
    let env = TestEnv::bare();
    let run = env.longrun(&["claim", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn release_help() {
    let env = TestEnv::bare();
    let run = env.longrun(&["release", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn mine_help() {
    let env = TestEnv::bare();
    let run = env.longrun(&["mine", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}
