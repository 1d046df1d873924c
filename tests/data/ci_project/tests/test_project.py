import pdleaky


def test_leaks_a_reference():
    pdleaky.lk_new_reference()


def test_clean():
    pdleaky.ok_new_reference()
