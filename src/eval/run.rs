//! Replays evals: each eval, for each agent profile, for each repeat, in a scratch worktree
//! at the eval's base commit on a throwaway branch (removed afterwards), the agent run
//! through the same supervisor as the cycle's workers, then the eval's validators.
