"""What participants say: the keyword engine, what each reply does, and the inbox of replies that
need a human.
"""
