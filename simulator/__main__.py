from simulator.cli import run

run()
