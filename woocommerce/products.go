package woocommerce

// product finds the product map entry of a line item: by its variation id
// first, then its product id, then its SKU. A variation without a SKU of
// its own reports its parent's SKU (WC_Product_Variation::get_sku), so a
// SKU names the variation only when nothing more precise does: an audit
// variation mapped by id stays audit even when its parent's SKU is mapped
// to verified. A map entry's product_id matches a line item's variation id
// or product id.
func (m ProductMap) product(li wcLineItem) (Product, bool) {
	for _, id := range []int64{int64(li.VariationID), int64(li.ProductID)} {
		if id == 0 {
			continue
		}
		for _, p := range m.Products {
			if p.ProductID == id {
				return p, true
			}
		}
	}
	if li.SKU != "" {
		for _, p := range m.Products {
			if p.SKU == li.SKU {
				return p, true
			}
		}
	}
	return Product{}, false
}
