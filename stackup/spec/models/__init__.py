def check_tree(tree, filename, problems):
    return None
