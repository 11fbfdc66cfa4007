"""Check your work before you submit: python -m autograder check
Then write the zip to hand in: python -m autograder pack
提交前自查：在本文件夹中运行 python -m autograder check；再运行 python -m autograder pack 生成提交文件

It runs the public cases of the grader's own checks on your rnn_layers.py and
rnn_classifier.py, in a separate process, and says what would still lose points.
The grader also runs hidden cases (other shapes, float32, edge cases).
"""
