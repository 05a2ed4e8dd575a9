"""Event models shared by the functions that use the pydantic-models layer (/opt/python in Lambda)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(ge=0, decimal_places=2)


class Order(BaseModel):
    """An order event: `Order.model_validate(event)` in a handler."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str = Field(pattern=r"^[A-Z0-9-]{4,40}$")
    created_at: datetime
    lines: tuple[OrderLine, ...] = Field(min_length=1)

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))
