"""A stage's state: what RUN sees of ARG and ENV, and how the config starts."""

from stackup.engine.build.stage import StageState, start_config
from stackup.engine.runtime.process import DEFAULT_PATH


def test_env_wins_over_arg_and_unset_args_are_left_out():
    state = StageState(config={"Env": ["A=from-env"]},
                       args={"A": "from-arg", "B": "b", "C": None})
    assert state.expansion_env() == {"A": "from-env", "B": "b"}
    assert state.run_env({}) == ["A=from-env", "B=b", f"PATH={DEFAULT_PATH}"]
    assert state.run_args() == ["B=b"]


def test_proxies_reach_run_but_not_the_history():
    state = StageState(config={"Env": ["PATH=/bin"]})
    assert state.run_env({"HTTP_PROXY": "http://p:3128"}) == ["PATH=/bin", "HTTP_PROXY=http://p:3128"]
    assert state.run_args() == []


def test_scratch_starts_with_path_and_a_base_keeps_its_own():
    assert start_config(None) == {"Env": [f"PATH={DEFAULT_PATH}"], "WorkingDir": "/"}
    assert start_config({"Env": ["PATH=/x"], "OnBuild": ["RUN x"]}) == {"Env": ["PATH=/x"]}


def test_fork_copies_everything_but_the_args():
    state = StageState(config={"Env": ["A=1"]}, args={"X": "1"}, key="k")
    twin = state.fork()
    twin.set_env([("A", "2")])
    assert state.env() == {"A": "1"} and twin.env() == {"A": "2"}
    assert twin.args == {} and twin.key == "k"


def test_set_env_keeps_order_and_replaces_in_place():
    state = StageState(config={"Env": ["PATH=/bin", "A=1"]})
    state.set_env([("A", "2"), ("B", "3")])
    assert state.config["Env"] == ["PATH=/bin", "A=2", "B=3"]
