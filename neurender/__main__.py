from neurender.cli import main

main(prog_name="neurender")
