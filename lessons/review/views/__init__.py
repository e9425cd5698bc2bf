"""The review pages, one module per page group; lessons.review.urls routes to them."""
