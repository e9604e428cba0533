"""The models: a fresh database is built from them (create_all, then alembic stamp head), as Alembic's cookbook says."""

from sqlalchemy import Column, Integer, String, Text
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Book(Base):
    __tablename__ = "books"

    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    note = Column(Text)
