"""Keeping the catalog: create and revise products, put them on or off sale, find them."""

from __future__ import annotations

from dataclasses import dataclass

from domain.audit import Actor, AuditEntry
from domain.catalog import Product, ProductDraft, ProductQuery, normalize_sku
from domain.errors import NotFound
from domain.paging import Page, PageRequest
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Catalog:
    uow: UnitOfWorkFactory
    clock: Clock

    async def create(self, draft: ProductDraft, actor: Actor) -> Product:
        product = Product.create(draft, self.clock.now())
        async with self.uow() as uow:
            product = await uow.products.add(product)
            await self._audit(uow, actor, "product.create", product)
            await uow.commit()
        return product

    async def revise(self, product_id: int, draft: ProductDraft, actor: Actor) -> Product:
        async with self.uow() as uow:
            product = (await self._get(uow, product_id)).revise(draft, self.clock.now())
            await uow.products.save(product)
            await self._audit(uow, actor, "product.update", product)
            await uow.commit()
        return product

    async def set_on_sale(self, product_id: int, on_sale: bool, actor: Actor) -> Product:
        async with self.uow() as uow:
            product = (await self._get(uow, product_id)).put_on_sale(on_sale, self.clock.now())
            await uow.products.save(product)
            await self._audit(uow, actor, "product.on_sale" if on_sale else "product.off_sale", product)
            await uow.commit()
        return product

    async def get(self, product_id: int) -> Product:
        async with self.uow(read_only=True) as uow:
            return await self._get(uow, product_id)

    async def by_sku(self, sku: str) -> Product:
        async with self.uow(read_only=True) as uow:
            product = await uow.products.by_sku(normalize_sku(sku))
        if product is None:
            raise NotFound(f"no product {sku!r}")
        return product

    async def search(self, query: ProductQuery, page: PageRequest) -> Page[Product]:
        async with self.uow(read_only=True) as uow:
            return await uow.products.search(query, page)

    async def categories(self) -> list[str]:
        async with self.uow(read_only=True) as uow:
            return await uow.products.categories()

    @staticmethod
    async def _get(uow: UnitOfWork, product_id: int) -> Product:
        product = await uow.products.get(product_id)
        if product is None:
            raise NotFound(f"no product #{product_id}")
        return product

    async def _audit(self, uow: UnitOfWork, actor: Actor, action: str, product: Product) -> None:
        await uow.audit.record(AuditEntry(self.clock.now(), actor, action, product.sku))
